// Subscriptions through the same API as every other client: list, create, edit (PATCH only what the form
// changed) and disable / enable. Secrets are never shown: the API masks Slack URLs and never returns a
// webhook secret, except the one it generates on creation, shown here masked.

import { call, reportAuth } from "./api.js";
import { el, replaceChildren, splitList } from "./dom.js";

const FILTERS = ["watchlists", "regions", "languages"];

export class Subscriptions {
  constructor({ rows, form, title, save, cancel, message, error }) {
    this.rows = rows;
    this.form = form;
    this.title = title;
    this.save = save;
    this.cancel = cancel;
    this.message = message;
    this.error = error;
    this.editing = null; // the subscription being edited
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    form.elements.channel.addEventListener("change", () => this.showChannelFields());
    cancel.addEventListener("click", () => this.reset());
    this.showChannelFields();
  }

  async load() {
    let data;
    try {
      data = await call("GET", "/v1/subscriptions");
    } catch (error) {
      reportAuth(error);
      this.error.textContent = `Subscriptions could not be loaded: ${error.message}`;
      return;
    }
    replaceChildren(this.rows, (data.subscriptions || []).map((sub) => this.row(sub)));
  }

  row(sub) {
    const channel = sub.channel || {};
    const target = channel.url || (channel.to || []).join(", ");
    const filters = FILTERS.filter((f) => (sub[f] || []).length).map((f) => `${f}: ${sub[f].join(", ")}`);
    if (sub.min_score) filters.push(`score ≥ ${sub.min_score}`);
    const state = sub.enabled ? "enabled" : "disabled";
    return el(
      "tr",
      { dataset: { subscriptionId: sub.id } },
      el("td", {}, sub.name),
      el("td", { class: sub.enabled ? "state-ok" : "state-disabled" }, state, sub.disabled_reason ? ` (${sub.disabled_reason})` : ""),
      el("td", {}, channel.type, target ? el("span", { class: "mono help" }, ` ${target}`) : null),
      el("td", {}, filters.join("; ") || "every alert"),
      el(
        "td",
        {},
        el("button", { type: "button", onclick: () => this.edit(sub), "aria-label": `Edit ${sub.name}` }, "Edit"),
        " ",
        el(
          "button",
          { type: "button", onclick: () => this.toggle(sub), "aria-label": `${sub.enabled ? "Disable" : "Enable"} ${sub.name}` },
          sub.enabled ? "Disable" : "Enable",
        ),
      ),
    );
  }

  showChannelFields() {
    const type = this.form.elements.channel.value;
    for (const node of this.form.querySelectorAll("[data-for]")) {
      node.hidden = !node.dataset.for.split(" ").includes(type);
    }
  }

  edit(sub) {
    this.editing = sub;
    const f = this.form.elements;
    f.id.value = sub.id;
    f.name.value = sub.name;
    f.channel.value = sub.channel?.type || "stream";
    f.url.value = sub.channel?.type === "webhook" ? sub.channel.url || "" : "";
    f.to.value = (sub.channel?.to || []).join(", ");
    for (const name of FILTERS) f[name].value = (sub[name] || []).join(", ");
    f.min_score.value = String(sub.min_score || 0);
    this.title.textContent = `Edit subscription “${sub.name}”`;
    this.save.textContent = "Save changes";
    this.cancel.hidden = false;
    this.showChannelFields();
    f.name.focus();
  }

  reset() {
    this.editing = null;
    this.form.reset();
    this.form.elements.id.value = "";
    this.title.textContent = "New subscription";
    this.save.textContent = "Create subscription";
    this.cancel.hidden = true;
    this.showChannelFields();
  }

  channelBody(isNew) {
    const f = this.form.elements;
    const type = f.channel.value;
    const current = this.editing?.channel?.type;
    if (type === "webhook" || type === "slack") {
      const url = f.url.value.trim();
      if (!url) return isNew || type !== current ? { type, url } : undefined;
      return { type, url };
    }
    if (type === "email") {
      const to = splitList(f.to.value);
      const same = current === "email" && to.join(",") === (this.editing.channel.to || []).join(",");
      return !isNew && same ? undefined : { type, to };
    }
    return isNew || type !== current ? { type } : undefined;
  }

  body(isNew) {
    const f = this.form.elements;
    const body = { name: f.name.value.trim() };
    for (const name of FILTERS) body[name] = splitList(f[name].value);
    const score = Number(f.min_score.value || 0);
    body.min_score = Number.isFinite(score) ? score : f.min_score.value;
    const channel = this.channelBody(isNew);
    if (channel) body.channel = channel;
    return body;
  }

  async submit() {
    this.error.textContent = "";
    this.message.textContent = "";
    const isNew = !this.editing;
    try {
      const saved = isNew
        ? await call("POST", "/v1/subscriptions", this.body(true))
        : await call("PATCH", `/v1/subscriptions/${encodeURIComponent(this.editing.id)}`, this.body(false));
      let text = `${isNew ? "Created" : "Saved"} “${saved.name}” (${saved.id}).`;
      if (saved.channel?.secret) {
        text += ` A signing secret was generated (${mask(saved.channel.secret)}); the console never shows secrets: to know it, set your own through the API or the CLI.`;
      }
      this.message.textContent = text;
      this.reset();
      await this.load();
    } catch (error) {
      reportAuth(error);
      this.error.textContent = `${error.message}${error.field ? ` (field: ${error.field})` : ""}`;
      const field = error.field && this.form.elements[error.field.replace(/^channel\./, "")];
      if (field && field.focus) field.focus();
    }
  }

  async toggle(sub) {
    this.error.textContent = "";
    try {
      await call("PATCH", `/v1/subscriptions/${encodeURIComponent(sub.id)}`, { enabled: !sub.enabled });
      this.message.textContent = `${sub.enabled ? "Disabled" : "Enabled"} “${sub.name}”.`;
      await this.load();
    } catch (error) {
      reportAuth(error);
      this.error.textContent = error.message;
    }
  }
}

function mask(secret) {
  return `${secret.slice(0, 10)}…`;
}
