// An alert's detail in a modal <dialog>: Escape or the Close button closes it and focus returns to the
// alert that opened it. Article text comes from GET /v1/alerts/{id}; when the alerter could not find it,
// the match snippets are shown instead.

import { call, reportAuth } from "./api.js";
import { el, replaceChildren, sourceLink, when } from "./dom.js";
import { highlighted, rangesFor } from "./highlight.js";

export class AlertDetail {
  constructor({ dialog, title, body, close }) {
    this.dialog = dialog;
    this.title = title;
    this.body = body;
    this.opener = null;
    this.request = 0;
    close.addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => {
      this.request += 1; // a late answer is dropped
      if (this.opener && this.opener.isConnected) this.opener.focus();
    });
  }

  async open(alert, opener) {
    this.opener = opener;
    const request = ++this.request;
    this.title.textContent = alert.title || "(no title)";
    replaceChildren(this.body, this.facts(alert), el("p", { class: "help", role: "status" }, "Loading the article…"));
    if (!this.dialog.open) this.dialog.showModal();
    let detail = null;
    let failure = null;
    try {
      detail = await call("GET", `/v1/alerts/${encodeURIComponent(alert.alert_id)}`);
    } catch (error) {
      reportAuth(error);
      failure = error;
    }
    if (request !== this.request) return;
    if (!detail) {
      replaceChildren(
        this.body,
        this.facts(alert),
        el("p", { class: "error", role: "alert" }, `The detail could not be loaded: ${failure.message}`),
        this.snippets(alert),
      );
      return;
    }
    replaceChildren(
      this.body,
      this.facts(detail.alert),
      this.text(detail.alert, detail.article),
      this.duplicates(detail.duplicates || []),
    );
  }

  facts(alert) {
    const counted = new Map(); // one line per place, however often it is named
    for (const p of alert.places || []) {
      const label = `${p.name}${p.country_code ? ` (${p.country_code})` : ""}`;
      const entry = counted.get(label) || { count: 0, spelled: new Set() };
      entry.count += 1;
      if (p.matched_text && p.matched_text !== p.name) entry.spelled.add(p.matched_text);
      counted.set(label, entry);
    }
    const places = [...counted].map(([label, { count, spelled }]) =>
      el("li", {}, label, spelled.size ? ` — as “${[...spelled].join("”, “")}”` : "", count > 1 ? ` ×${count}` : ""),
    );
    const terms = [...new Set((alert.matches || []).map((m) => m.term_label || m.term_id))];
    const row = (label, ...value) => [el("dt", {}, label), el("dd", {}, ...value)];
    return el(
      "section",
      { "aria-label": "Facts" },
      el(
        "dl",
        { class: "facts" },
        row("Source", sourceLink(alert.url)),
        row("Watch list", alert.watchlist?.name || alert.watchlist?.id || "—"),
        row("Matched terms", terms.join(", ") || "—"),
        row("Score", Number(alert.score || 0).toFixed(3)),
        row("Regions", (alert.regions || []).join(", ") || "—"),
        row("Countries", (alert.countries || []).join(", ") || "—"),
        row("Language", alert.language || "—"),
        row("Published", when(alert.published_at)),
        row("Alerted", when(alert.created_at)),
      ),
      el("h3", {}, "Places"),
      places.length ? el("ul", { class: "places" }, places) : el("p", { class: "help" }, "No place found."),
    );
  }

  text(alert, article) {
    if (!article) {
      return el(
        "section",
        { "aria-label": "Article text" },
        el("h3", {}, "Article text"),
        el("p", { class: "help" }, "The article text was not found on the enriched-articles topic in time; the matched snippets follow."),
        this.snippets(alert),
      );
    }
    const parts = ["title", "summary", "content"]
      .filter((field) => article[field])
      .map((field) => el("div", { class: "article-text", dataset: { field } }, highlighted(article[field], rangesFor(alert, field))));
    return el(
      "section",
      { "aria-label": "Article text" },
      el("h3", {}, "Article text"),
      parts,
      article.truncated ? el("p", { class: "help" }, "The text was cut: it is too long to show whole.") : null,
    );
  }

  snippets(alert) {
    const items = (alert.matches || []).map((m) =>
      el("li", {}, el("mark", { class: "term" }, m.matched_text || m.term_label), ` — ${m.snippet || ""}`),
    );
    return el("ul", { class: "snippets" }, items);
  }

  duplicates(list) {
    return el(
      "section",
      { "aria-label": "Duplicates" },
      el("h3", {}, `Duplicates (${list.length})`),
      list.length
        ? el("ul", {}, list.map((d) => el("li", {}, sourceLink(d.url, d.title || d.url), ` · ${when(d.created_at)}`)))
        : el("p", { class: "help" }, "No other article of this duplicate cluster among the recent alerts."),
    );
  }
}
