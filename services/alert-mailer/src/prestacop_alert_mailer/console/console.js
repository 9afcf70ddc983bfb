// Prestacop operator console: plain JS + SVG over the mailer's operator API, no external asset.
// The operator token lives in this tab's sessionStorage and goes out only as an Authorization
// header; the live stream (Server-Sent Events) is opened with a session cookie obtained by
// POST /console/session. Every value from an alert is set as textContent or an attribute value,
// never parsed as HTML, and the server's Content-Security-Policy backs that up.
"use strict";

const TOKEN_KEY = "prestacop.console.token";
const OPERATOR_KEY = "prestacop.console.operator";
const REASONS = {
  offence_unclassified: "offence not classified",
  plate_unreadable: "plate unreadable",
  view_obstructed: "view obstructed",
  low_confidence: "low confidence",
};

const state = {
  alerts: new Map(),   // open alerts by id
  selected: null,      // the alert view shown in the detail panel
  codes: [],           // the DOF table
  map: null,
  source: null,
  retry: null,
};

const $ = (id) => document.getElementById(id);

function show(text, kind = "info") {
  const message = $("message");
  message.textContent = text;
  message.dataset.kind = kind;
  message.hidden = false;
}

function clearMessage() {
  $("message").hidden = true;
  $("message").textContent = "";
  $("message").dataset.kind = "";
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

// The API's own words for an error: FastAPI's detail, a string or a list of validation errors.
function apiMessage(body, status) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((problem) => String(problem.msg || problem).replace(/^Value error, /, "")).join("; ");
  }
  return `HTTP ${status}`;
}

class ApiError extends Error {
  constructor(status, body) {
    super(apiMessage(body, status));
    this.status = status;
    this.body = body;
  }
}

async function api(method, url, body) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, { detail: "the alert mailer did not answer; check it runs and retry" });
  }
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch (error) { parsed = { detail: text }; }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

function utc(iso) {
  return iso ? String(iso).replace("T", " ").replace(/\.\d+/, "").replace(/(\+00:00|Z)$/, " UTC") : "—";
}

function position(alert) {
  return `${Number(alert.latitude).toFixed(5)}, ${Number(alert.longitude).toFixed(5)}`;
}

function newestFirst(a, b) {
  return a.emitted_at < b.emitted_at ? 1 : a.emitted_at > b.emitted_at ? -1 : (a.alert_id < b.alert_id ? 1 : -1);
}

// ---- list and map --------------------------------------------------------------------------

function render() {
  const rows = [...state.alerts.values()].sort(newestFirst);
  const body = $("alerts").tBodies[0];
  body.replaceChildren();
  for (const alert of rows) {
    const tr = body.insertRow();
    tr.dataset.alertId = alert.alert_id;
    tr.setAttribute("aria-selected", String(state.selected?.alert_id === alert.alert_id));
    for (const text of [utc(alert.emitted_at), alert.drone_id, REASONS[alert.reason] || alert.reason,
      alert.image_id, position(alert)]) {
      tr.insertCell().textContent = text;
    }
    tr.addEventListener("click", () => select(alert.alert_id));
  }
  $("count").textContent = `(${rows.length})`;
  $("no-alerts").hidden = rows.length > 0;
  renderPoints(rows);
}

function renderPoints(rows) {
  if (!state.map) return;
  const layer = state.map.svg.querySelector(".layer-points");
  layer.replaceChildren();
  for (const alert of [...rows].reverse()) {  // the newest drawn last, on top
    const selected = state.selected?.alert_id === alert.alert_id;
    const point = state.map.point(alert.longitude, alert.latitude, {
      class: selected ? "point alert-point selected" : "point alert-point",
      "data-alert-id": alert.alert_id, tabindex: 0, r: selected ? 7 : 5,
    });
    state.map.el("title", {}, point).textContent = `${alert.drone_id}: ${REASONS[alert.reason] || alert.reason}`;
    point.addEventListener("click", () => select(alert.alert_id));
    point.addEventListener("keydown", (event) => { if (event.key === "Enter") select(alert.alert_id); });
  }
}

async function drawMap() {
  const container = $("map");
  try {
    state.map = NycMap.draw(container, await NycMap.loadBoroughs());
    container.dataset.rendered = "true";
  } catch (error) {
    container.textContent = `The borough map could not be drawn: ${error.message}`;
  }
  render();
}

async function loadAlerts() {
  try {
    const open = await api("GET", "/alerts?status=open&limit=1000");
    state.alerts = new Map(open.map((alert) => [alert.alert_id, alert]));
    render();
    document.body.dataset.loaded = "true";
    if (state.selected && !state.alerts.has(state.selected.alert_id)) await refreshSelected();
  } catch (error) {
    handleAuthError(error) || show(`Could not load the alerts: ${error.message}`, "error");
  }
}

// A change pushed by the mailer: a new alert, or one resolved (here or by someone else).
function applyAlert(alert) {
  if (alert.status === "open") state.alerts.set(alert.alert_id, alert);
  else state.alerts.delete(alert.alert_id);
  if (state.selected?.alert_id === alert.alert_id) {
    const wasOpen = state.selected.status === "open";
    state.selected = alert;
    renderDetail();
    if (wasOpen && alert.status !== "open" && !state.resolvingHere) {
      const r = alert.resolution;
      show(`Alert ${alert.alert_id} was resolved by ${r ? r.operator : "another operator"}` +
        (r ? ` with code ${r.violation_code} (${r.violation_definition}).` : "."), "info");
    }
  }
  render();
}

// ---- detail and resolve form ---------------------------------------------------------------

async function select(alertId) {
  clearMessage();
  history.replaceState(null, "", `#alert=${encodeURIComponent(alertId)}`);
  const known = state.alerts.get(alertId);
  if (known) {
    state.selected = known;
  } else {
    try {
      state.selected = await api("GET", `/alerts/${encodeURIComponent(alertId)}`);
    } catch (error) {
      handleAuthError(error) || show(`Alert ${alertId}: ${error.message}`, "error");
      return;
    }
  }
  $("code").value = "";
  $("code-search").value = "";
  $("plate").value = "";
  filterCodes();
  renderDetail();
  render();
}

async function refreshSelected() {
  try {
    state.selected = await api("GET", `/alerts/${encodeURIComponent(state.selected.alert_id)}`);
    renderDetail();
  } catch (error) { /* the list is what matters; the detail keeps what it showed */ }
}

function renderDetail() {
  const alert = state.selected;
  $("detail").hidden = !alert;
  if (!alert) return;
  $("detail-id").textContent = alert.alert_id;
  const borough = state.map ? state.map.boroughAt(alert.longitude, alert.latitude) : null;
  const fields = [
    ["status", alert.status], ["drone", alert.drone_id], ["time", utc(alert.emitted_at)],
    ["reason", REASONS[alert.reason] || alert.reason], ["detail", alert.detail || "—"],
    ["image id", alert.image_id], ["plate", alert.plate_id || "none read"],
    ["position", position(alert)], ["borough", borough || "outside the five boroughs"],
    ["email", alert.delivery],
  ];
  const body = $("detail-fields").tBodies[0];
  body.replaceChildren();
  for (const [name, value] of fields) {
    const tr = body.insertRow();
    tr.dataset.field = name;
    tr.insertCell().textContent = name;
    tr.insertCell().textContent = String(value);
  }
  const open = alert.status === "open";
  $("resolve-form").hidden = !open;
  $("plate").required = open && !alert.plate_id;
  const resolution = $("resolution");
  resolution.hidden = open || !alert.resolution;
  if (alert.resolution) {
    const r = alert.resolution;
    resolution.textContent = `Resolved by ${r.operator} at ${utc(r.resolved_at)}: code ` +
      `${r.violation_code} (${r.violation_definition}), plate ${r.plate_id}, violation event ` +
      `${r.violation_event_id}.`;
  }
}

function codeLabel(code) {
  return `${code.code} — ${code.definition} ($${code.fine_manhattan_usd} / $${code.fine_elsewhere_usd})`;
}

function matches(code, words) {
  const text = `${code.definition} ${code.long_definition || ""}`.toLowerCase();
  return words.every((word) => String(code.code).startsWith(word) || text.includes(word));
}

function filterCodes() {
  const words = $("code-search").value.toLowerCase().split(/\s+/).filter(Boolean);
  const options = $("code-options");
  options.replaceChildren();
  for (const code of state.codes.filter((c) => matches(c, words))) {
    const option = document.createElement("option");
    option.value = String(code.code);
    option.textContent = codeLabel(code);
    if (code.long_definition) option.title = code.long_definition;
    options.appendChild(option);
  }
  if (options.options.length === 1) { options.selectedIndex = 0; pickCode(); }
}

function pickCode() {
  const chosen = $("code-options").value;
  if (chosen) { $("code").value = chosen; showFine(); }
}

function showFine() {
  const value = $("code").value.trim();
  const code = state.codes.find((c) => String(c.code) === value);
  $("fine").textContent = !value ? "" : code
    ? `${code.code} ${code.definition}: fine $${code.fine_manhattan_usd} in Manhattan at or below ` +
      `96th Street, $${code.fine_elsewhere_usd} elsewhere.`
    : `Code ${value} is not in the DOF table shown above.`;
}

async function resolveSelected(event) {
  event.preventDefault();
  const alert = state.selected;
  if (!alert) return;
  const raw = $("code").value.trim();
  if (!/^\d+$/.test(raw)) {
    show("Pick a violation code from the table (a number).", "error");
    return;
  }
  const decision = { violation_code: Number(raw), operator: sessionStorage.getItem(OPERATOR_KEY) };
  const plate = $("plate").value.trim();
  if (plate) decision.plate_id = plate;
  $("resolve").disabled = true;
  state.resolvingHere = true;
  try {
    const resolution = await api("POST", `/alerts/${encodeURIComponent(alert.alert_id)}/resolve`, decision);
    show(`Alert ${alert.alert_id} resolved: code ${resolution.violation_code} ` +
      `(${resolution.violation_definition}), violation event ${resolution.violation_event_id}.`, "ok");
    state.alerts.delete(alert.alert_id);
    state.selected = { ...alert, status: "resolved", resolution };
  } catch (error) {
    if (error.status === 409) {
      const r = error.body && error.body.resolution;
      show(`Already resolved by someone else: ${r ? `${r.operator}, code ${r.violation_code} ` +
        `(${r.violation_definition}) at ${utc(r.resolved_at)}` : error.message}. Nothing was sent.`, "error");
      state.alerts.delete(alert.alert_id);
      state.selected = { ...alert, status: "resolved", resolution: r || null };
    } else if (error.status === 401) {
      show("The token was refused for resolving (a read-only token cannot resolve): sign in with the operator token.", "error");
    } else if (error.status === 503) {
      show(`Not resolved, Kafka did not take the events: ${error.message}. Retrying is safe.`, "error");
    } else {
      show(`Not resolved: ${error.message}`, "error");
    }
  } finally {
    state.resolvingHere = false;
    $("resolve").disabled = false;
  }
  renderDetail();
  render();
}

// ---- sign-in and live stream ---------------------------------------------------------------

function handleAuthError(error) {
  if (error.status !== 401) return false;
  signOut("Your token was refused: sign in again.");
  return true;
}

function setLive(stateName, text) {
  $("live").dataset.state = stateName;
  $("live").textContent = text;
}

async function openSession() {
  await api("POST", "/console/session");
}

function connectLive() {
  if (state.source) state.source.close();
  const source = new EventSource("/console/events");
  state.source = source;
  setLive("connecting", "connecting…");
  source.addEventListener("open", () => setLive("live", "live"));
  source.addEventListener("resync", () => loadAlerts());
  source.addEventListener("alert", (event) => applyAlert(JSON.parse(event.data)));
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) { setLive("connecting", "reconnecting…"); return; }
    // Refused (the session ended): open a new session with the token, then reconnect.
    setLive("offline", "offline, retrying");
    clearTimeout(state.retry);
    state.retry = setTimeout(async () => {
      try { await openSession(); connectLive(); } catch (error) {
        handleAuthError(error) || source.dispatchEvent(new Event("error"));
      }
    }, 1000);
  });
}

async function signIn() {
  try {
    await openSession();
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    show(error.status === 401 ? "This token is not valid for this console." : `Cannot sign in: ${error.message}`, "error");
    return;
  }
  $("sign-in").hidden = true;
  $("desk").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = `signed in as ${sessionStorage.getItem(OPERATOR_KEY)}`;
  if (!state.codes.length) {
    try { state.codes = await api("GET", "/console/violation-codes"); } catch (error) {
      show(`Could not load the violation-code table: ${error.message}`, "error");
    }
    filterCodes();
  }
  if (!state.map) await drawMap();
  connectLive();
  await loadAlerts();
  openFromAddress();
}

function signOut(text) {
  if (state.source) state.source.close();
  clearTimeout(state.retry);
  fetch("/console/session", { method: "DELETE" }).catch(() => {});
  sessionStorage.removeItem(TOKEN_KEY);
  $("desk").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("who").textContent = "";
  setLive("off", "not connected");
  if (text) show(text, "error"); else clearMessage();
}

function openFromAddress() {
  const match = /^#alert=(.+)$/.exec(location.hash);
  if (match) select(decodeURIComponent(match[1]));
}

function main() {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(OPERATOR_KEY, $("operator-name").value.trim());
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    clearMessage();
    signIn();
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("code-search").addEventListener("input", filterCodes);
  $("code-options").addEventListener("change", pickCode);
  $("code").addEventListener("input", showFine);
  $("resolve-form").addEventListener("submit", resolveSelected);
  window.addEventListener("hashchange", () => { if (token()) openFromAddress(); });
  $("operator-name").value = sessionStorage.getItem(OPERATOR_KEY) || "";
  if (token()) signIn();
}

main();
