// Boot: find out whether the API wants a token (probe without one: 503 api_disabled = the API is off,
// 401 = ask for the token, 200 = open), keep the token in sessionStorage, then start the three panels.

import { ApiError, call, onUnauthorized, token } from "./api.js";
import { AlertList } from "./alerts.js";
import { AlertDetail } from "./detail.js";
import { FeedHealth } from "./feeds.js";
import { Subscriptions } from "./subscriptions.js";

const $ = (id) => document.getElementById(id);

const detail = new AlertDetail({ dialog: $("detail"), title: $("detail-title"), body: $("detail-body"), close: $("detail-close") });
const alerts = new AlertList({
  list: $("alert-list"),
  empty: $("no-alerts"),
  state: $("stream-state"),
  form: $("alert-filters"),
  datalists: { watchlist: $("seen-watchlists"), region: $("seen-regions"), language: $("seen-languages") },
  onOpen: (alert, opener) => detail.open(alert, opener),
});
const feeds = new FeedHealth({ rows: $("feed-rows"), state: $("feeds-state"), refresh: $("feeds-refresh") });
const subscriptions = new Subscriptions({
  rows: $("subscription-rows"),
  form: $("subscription-form"),
  title: $("subscription-form-title"),
  save: $("sub-save"),
  cancel: $("sub-cancel"),
  message: $("sub-message"),
  error: $("sub-error"),
});

let running = false;

function show(view) {
  $("auth").hidden = view !== "auth";
  $("api-off").hidden = view !== "off";
  $("main").hidden = view !== "main";
  $("forget-token").hidden = !(view === "main" && token.get());
}

function stopAll() {
  running = false;
  alerts.stop();
  feeds.stop();
}

function askForToken(message) {
  stopAll();
  token.clear();
  show("auth");
  $("connection").textContent = "Signed out";
  $("token-error").textContent = message || "";
  $("token").focus();
}

function startAll() {
  if (running) return;
  running = true;
  show("main");
  $("connection").textContent = "Connected";
  alerts.start();
  feeds.start();
  subscriptions.load();
}

async function probe() {
  try {
    await call("GET", "/v1/subscriptions");
    return "ok";
  } catch (error) {
    if (error instanceof ApiError && error.status === 503 && error.code === "api_disabled") return "off";
    if (error instanceof ApiError && error.status === 401) return "token";
    return error;
  }
}

async function boot() {
  const outcome = await probe();
  if (outcome === "ok") startAll();
  else if (outcome === "off") {
    show("off");
    $("connection").textContent = "API off";
  } else if (outcome === "token") askForToken(token.get() ? "The kept token was refused." : "");
  else {
    $("connection").textContent = `The alerter did not answer: ${outcome.message}`;
    setTimeout(boot, 5000);
  }
}

onUnauthorized.handler = () => askForToken("The token was refused (changed on the alerter?). Enter it again.");

$("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = $("token").value.trim();
  if (!value) return;
  token.set(value);
  $("token").value = "";
  const outcome = await probe();
  if (outcome === "ok") {
    $("token-error").textContent = "";
    startAll();
    $("alerts").focus();
  } else if (outcome === "token") {
    askForToken("This token was refused.");
  } else {
    $("token-error").textContent = outcome === "off" ? "The API is off." : `The alerter did not answer: ${outcome.message}`;
  }
});

$("forget-token").addEventListener("click", () => askForToken(""));

boot();
