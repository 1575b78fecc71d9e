// DOM helpers. Every text from the API is untrusted (feed content): it only ever becomes a text node or
// an attribute value set through the DOM, never markup: nothing in the console parses data as HTML.

/**
 * Build an element: `el("a", {href, class: "x", dataset: {id}}, "text", childNode)`.
 * Strings become text nodes; null/undefined/false children are skipped.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "hidden" || name === "disabled") node[name] = Boolean(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace every child of `node`. */
export function replaceChildren(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

/** An http(s) URL as a link that opens apart from the console; anything else as plain text. */
export function sourceLink(url, label) {
  let parsed = null;
  try {
    parsed = new URL(url);
  } catch {
    parsed = null;
  }
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    return el("span", { class: "mono" }, url || "(no link)");
  }
  return el("a", { href: parsed.href, target: "_blank", rel: "noopener noreferrer" }, label || parsed.href);
}

/** "2026-11-26 05:01:02 UTC" for an RFC 3339 string; "—" for null. */
export function when(text) {
  if (!text) return "—";
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return String(text);
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
}

/** Comma-separated input → trimmed non-empty values. */
export function splitList(text) {
  return String(text || "").split(",").map((v) => v.trim()).filter(Boolean);
}
