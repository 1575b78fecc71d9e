// Server-Sent Events over fetch(): EventSource cannot send an Authorization header, and a token in the
// URL would end up in logs. SseParser follows the WHATWG event-stream rules (line ends \n, \r\n or \r;
// "data" lines joined by \n; "id", "event", "retry"; comment lines ignored; an event is dispatched at a
// blank line). EventStreamClient reads one stream, reconnects with exponential backoff and jitter, and
// resumes with Last-Event-ID; it also drops events whose id it has already delivered.

export class SseParser {
  /** `onEvent({id, event, data})` per dispatched event; `onRetry(ms)` when the server sets retry. */
  constructor(onEvent, onRetry = () => {}) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.buffer = "";
    this.data = [];
    this.event = "";
    this.lastEventId = "";
    this.pendingCR = false;
  }

  /** Feed decoded text; events complete in it are dispatched. */
  push(text) {
    let chunk = text;
    if (this.pendingCR && chunk.startsWith("\n")) chunk = chunk.slice(1); // "\r" then "\n" across chunks
    this.pendingCR = false;
    this.buffer += chunk;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i += 1) {
      const c = this.buffer[i];
      if (c !== "\n" && c !== "\r") continue;
      this.line(this.buffer.slice(start, i));
      if (c === "\r") {
        if (i + 1 < this.buffer.length) {
          if (this.buffer[i + 1] === "\n") i += 1;
        } else {
          this.pendingCR = true;
        }
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  line(line) {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.onRetry(Number(value));
  }

  dispatch() {
    if (this.data.length === 0) {
      this.event = "";
      return;
    }
    const event = { id: this.lastEventId, event: this.event || "message", data: this.data.join("\n") };
    this.data = [];
    this.event = "";
    this.onEvent(event);
  }
}

export class EventStreamClient {
  /**
   * options: url() → the path to read (with its query), headers() → extra headers (the token),
   * onEvent(event), onState(state, detail) with state "connecting" | "open" | "waiting" | "stopped",
   * onFatal(error) for answers a retry cannot fix (400, 401, 404), initialDelayMs, maxDelayMs, seen (ids).
   */
  constructor(options) {
    this.options = { initialDelayMs: 1000, maxDelayMs: 30000, ...options };
    this.lastEventId = "";
    this.failures = 0;
    this.retryMs = null;
    this.controller = null;
    this.running = false;
    this.seen = new Set();
    this.seenOrder = [];
    this.timer = null;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  stop() {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.options.onState?.("stopped");
  }

  remember(id) {
    if (!id || this.seen.has(id)) return false;
    this.seen.add(id);
    this.seenOrder.push(id);
    if (this.seenOrder.length > 5000) this.seen.delete(this.seenOrder.shift());
    return true;
  }

  async connect() {
    if (!this.running) return;
    const controller = new AbortController();
    this.controller = controller;
    this.options.onState?.("connecting");
    const headers = { Accept: "text/event-stream", ...this.options.headers() };
    if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
    try {
      const response = await fetch(this.options.url(this.lastEventId), {
        headers, signal: controller.signal, cache: "no-store",
      });
      if (!response.ok) {
        let error = {};
        try {
          error = (await response.json()).error || {};
        } catch {
          error = {};
        }
        if ([400, 401, 403, 404].includes(response.status)) {
          this.running = false;
          this.options.onFatal?.({ status: response.status, code: error.code, message: error.message });
          this.options.onState?.("stopped");
          return;
        }
        const after = Number(response.headers.get("Retry-After"));
        this.schedule(Number.isFinite(after) && after > 0 ? after * 1000 : null, error.message);
        return;
      }
      this.failures = 0;
      this.options.onState?.("open");
      const parser = new SseParser(
        (event) => {
          if (event.id) this.lastEventId = event.id;
          if (event.id && !this.remember(event.id)) return; // already shown: a resumed stream repeats nothing
          this.options.onEvent(event);
        },
        (ms) => { this.retryMs = ms; },
      );
      const reader = response.body.getReader();
      const decoder = new TextDecoder("utf-8");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(decoder.decode(value, { stream: true }));
      }
      parser.push(decoder.decode());
      this.schedule(null, "the stream ended");
    } catch (error) {
      if (controller.signal.aborted || !this.running) return;
      this.schedule(null, error.message);
    }
  }

  /** Reconnect later: server-given delay, else retry: from the stream, else backoff with jitter. */
  schedule(delayMs, reason) {
    if (!this.running) return;
    this.failures += 1;
    const base = this.retryMs ?? this.options.initialDelayMs;
    const backoff = Math.min(this.options.maxDelayMs, base * 2 ** Math.min(this.failures - 1, 10));
    const wait = delayMs ?? Math.round(backoff * (0.5 + Math.random() / 2));
    this.options.onState?.("waiting", { ms: wait, reason });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, wait);
  }
}
