// Feed health from GET /v1/feeds (the pollers write it on newswatch.feeds.v1), refreshed every
// REFRESH_MS while the page is open and on demand.

import { call, reportAuth } from "./api.js";
import { el, replaceChildren, when } from "./dom.js";

const REFRESH_MS = 15000;

export class FeedHealth {
  constructor({ rows, state, refresh }) {
    this.rows = rows;
    this.state = state;
    this.timer = null;
    refresh.addEventListener("click", () => this.load());
  }

  start() {
    this.load();
    this.timer = setInterval(() => this.load(), REFRESH_MS);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async load() {
    let data;
    try {
      data = await call("GET", "/v1/feeds");
    } catch (error) {
      reportAuth(error);
      this.state.textContent = `Feeds could not be loaded: ${error.message}`;
      return;
    }
    const feeds = data.feeds || [];
    replaceChildren(this.rows, feeds.map((feed) => this.row(feed)));
    this.state.textContent = `${feeds.length} feed(s), updated ${when(new Date().toISOString())}.`;
  }

  row(feed) {
    const health = feed.health || {};
    const state = feed.enabled ? health.state || "unknown" : "disabled";
    return el(
      "tr",
      { dataset: { feedId: feed.feed_id } },
      el("td", {}, el("span", { class: "title" }, feed.title || "(untitled)"), el("br"), el("span", { class: "mono help" }, feed.url)),
      el("td", { class: `state-${state}` }, state),
      el("td", {}, when(health.last_success_at)),
      el("td", {}, health.last_error || "—"),
      el("td", {}, when(health.next_check_at)),
      el("td", {}, String(health.consecutive_failures || 0)),
    );
  }
}
