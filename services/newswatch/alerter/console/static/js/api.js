// The API client: every data call sends the bearer token kept in this tab's sessionStorage (never in a
// URL, never in localStorage). Errors keep the API's {error: {code, message, field}} shape.

const TOKEN_KEY = "newswatch.console.token";

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export const token = {
  get() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  },
  set(value) {
    sessionStorage.setItem(TOKEN_KEY, value);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** Headers for a data call: the bearer token when one is kept. */
export function authHeaders(extra = {}) {
  const value = token.get();
  return value ? { ...extra, Authorization: `Bearer ${value}` } : { ...extra };
}

/** Call the API; resolve with the parsed JSON body (null for 204), reject with ApiError. */
export async function call(method, path, body = undefined) {
  const init = { method, headers: authHeaders({ Accept: "application/json" }), cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, "network", `the alerter did not answer (${error.message})`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "http_error", error.message || response.statusText, error.field);
  }
  return data;
}

/** A listener for 401s anywhere (the token is wrong or was changed): set by main.js. */
export const onUnauthorized = { handler: null };

export function reportAuth(error) {
  if (error instanceof ApiError && error.status === 401 && onUnauthorized.handler) onUnauthorized.handler(error);
}
