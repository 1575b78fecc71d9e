// The live alert list: /v1/alerts/stream read with EventStreamClient, filtered by watch list, region and
// language (the API's own filters), newest first, at most MAX_SHOWN items. Each alert is a button:
// Enter or Space opens its detail.

import { authHeaders, reportAuth, ApiError } from "./api.js";
import { el, replaceChildren, when } from "./dom.js";
import { EventStreamClient } from "./sse.js";

const MAX_SHOWN = 200;
const REPLAY = 50; // the newest buffered alerts shown on (re)load

export class AlertList {
  constructor({ list, empty, state, form, datalists, onOpen }) {
    this.list = list;
    this.empty = empty;
    this.state = state;
    this.form = form;
    this.datalists = datalists; // {watchlist, region, language} → <datalist>
    this.onOpen = onOpen;
    this.alerts = new Map(); // alert_id → alert document (what is shown)
    this.seenValues = { watchlist: new Set(), region: new Set(), language: new Set() };
    this.client = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.restart();
    });
    form.addEventListener("reset", () => setTimeout(() => this.restart(), 0));
  }

  query() {
    const params = new URLSearchParams({ last: String(REPLAY) });
    for (const name of ["watchlist", "region", "language"]) {
      const value = this.form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
    return `/v1/alerts/stream?${params}`;
  }

  start() {
    this.stop();
    const path = this.query();
    this.client = new EventStreamClient({
      url: () => path,
      headers: () => authHeaders(),
      onEvent: (event) => {
        if (event.event !== "alert") return;
        try {
          this.add(JSON.parse(event.data));
        } catch {
          // a malformed event is skipped; the stream goes on
        }
      },
      onState: (state, detail) => this.showState(state, detail),
      onFatal: (error) => {
        this.state.textContent = `Stream refused: ${error.message || error.status}`;
        reportAuth(new ApiError(error.status, error.code, error.message));
      },
    });
    this.client.start();
  }

  stop() {
    if (this.client) this.client.stop();
    this.client = null;
  }

  restart() {
    this.alerts.clear();
    replaceChildren(this.list);
    this.empty.hidden = false;
    this.start();
  }

  showState(state, detail) {
    const text = {
      connecting: "Connecting to the live stream…",
      open: "Live: new alerts appear at the top.",
      waiting: `Stream interrupted; reconnecting in ${Math.ceil((detail?.ms || 0) / 1000)} s.`,
      stopped: "Stream stopped.",
    }[state];
    if (text) this.state.textContent = text;
  }

  add(alert) {
    if (!alert || !alert.alert_id || this.alerts.has(alert.alert_id)) return;
    this.alerts.set(alert.alert_id, alert);
    this.learn(alert);
    const item = el("li", { dataset: { alertId: alert.alert_id } }, this.button(alert));
    this.list.prepend(item);
    this.empty.hidden = true;
    while (this.list.children.length > MAX_SHOWN) {
      const last = this.list.lastElementChild;
      this.alerts.delete(last.dataset.alertId);
      last.remove();
    }
  }

  button(alert) {
    const regions = (alert.regions || []).map((r) => el("span", { class: "tag" }, r));
    const watchlist = alert.watchlist?.name || alert.watchlist?.id || "";
    return el(
      "button",
      {
        type: "button",
        class: "alert-item",
        dataset: { alertId: alert.alert_id },
        "aria-haspopup": "dialog",
        onclick: (event) => this.onOpen(alert, event.currentTarget),
      },
      el("span", { class: "title" }, alert.title || "(no title)"),
      el(
        "span",
        { class: "meta" },
        `${watchlist} · ${alert.language || "?"} · score ${Number(alert.score || 0).toFixed(2)} · ${when(alert.created_at)} `,
        ...regions,
      ),
    );
  }

  learn(alert) {
    const add = (kind, value) => {
      if (!value || this.seenValues[kind].has(value) || this.seenValues[kind].size > 200) return;
      this.seenValues[kind].add(value);
      this.datalists[kind].append(el("option", { value }));
    };
    add("watchlist", alert.watchlist?.id);
    for (const region of alert.regions || []) add("region", region);
    add("language", alert.language);
  }
}
