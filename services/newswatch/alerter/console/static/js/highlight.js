// Highlighting matched terms and places in an article field. Offsets from the processor are Unicode code
// points into the field; JavaScript strings index UTF-16 units, so the text is split into code points
// first. A range whose text is not what the match says it is (the field was cut, or edited) is skipped.

import { el } from "./dom.js";

/**
 * Nodes for `text` with `ranges` ({start, end, kind: "term" | "place", label}) wrapped in <mark>.
 * Overlapping ranges: the first by start (terms before places at the same start) wins.
 */
export function highlighted(text, ranges) {
  const points = Array.from(text || "");
  const usable = ranges
    .filter((r) => Number.isInteger(r.start) && Number.isInteger(r.end) && r.start < r.end && r.end <= points.length)
    .filter((r) => !r.matched || points.slice(r.start, r.end).join("") === r.matched)
    .sort((a, b) => a.start - b.start || (a.kind === "term" ? -1 : 1));
  const nodes = [];
  let at = 0;
  for (const range of usable) {
    if (range.start < at) continue;
    if (range.start > at) nodes.push(points.slice(at, range.start).join(""));
    nodes.push(
      el("mark", { class: range.kind, title: range.label || null }, points.slice(range.start, range.end).join("")),
    );
    at = range.end;
  }
  if (at < points.length) nodes.push(points.slice(at).join(""));
  return nodes;
}

/** The ranges of one field ("title", "summary", "content") from an alert document. */
export function rangesFor(alert, field) {
  const terms = (alert.matches || [])
    .filter((m) => m.field === field)
    .map((m) => ({ start: m.start, end: m.end, kind: "term", label: m.term_label, matched: m.matched_text }));
  const places = (alert.places || [])
    .filter((p) => p.field === field)
    .map((p) => ({ start: p.start, end: p.end, kind: "place", label: p.name, matched: p.matched_text }));
  return [...terms, ...places];
}
