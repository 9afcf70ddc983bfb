// Prestacop dashboard: plain JS + SVG, no external assets. Each chart container gets
// data-rendered="true" and data-items="<drawn items>" once drawn (the browser test reads them).
// Values from the data (drone ids come from Kafka unchecked) are only ever set as textContent
// or attribute values, never parsed as HTML; the server's Content-Security-Policy backs that up.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

function svg(container, width, height) {
  return el("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img" }, container);
}

function done(container, items) {
  container.dataset.items = String(items);
  container.dataset.rendered = "true";
}

function empty(container, text) {
  const p = document.createElement("p");
  p.className = "empty";
  p.textContent = text;
  container.appendChild(p);
  done(container, 0);
}

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function drawTopCodes(container, rows) {
  const top = rows.slice(0, 15);
  if (!top.length) return empty(container, "No tickets stored yet.");
  const width = 640, barHeight = 20, left = 250, height = top.length * barHeight + 10;
  const chart = svg(container, width, height);
  const max = Math.max(...top.map((r) => r.tickets));
  top.forEach((row, i) => {
    const y = i * barHeight + 4;
    const label = `${row.violation_code ?? "none"} ${row.definition ?? "(not in DOF table)"}`;
    el("text", { x: 0, y: y + 13 }, chart).textContent = label.slice(0, 38);
    const w = ((width - left - 70) * row.tickets) / max;
    const bar = el("rect", { x: left, y, width: Math.max(w, 1), height: barHeight - 4, fill: "#3a6ea5", class: "bar" }, chart);
    el("title", {}, bar).textContent = `${row.tickets} tickets`;
    el("text", { x: left + w + 4, y: y + 13 }, chart).textContent = String(row.tickets);
  });
  done(container, top.length);
}

function drawHeatmap(container, rows) {
  if (!rows.length) return empty(container, "No ticket with a parseable date and time.");
  const days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const cell = 22, left = 36, top = 16;
  const chart = svg(container, left + 24 * cell + 4, top + 7 * cell + 4);
  const max = Math.max(...rows.map((r) => r.tickets));
  for (let h = 0; h < 24; h += 3) el("text", { x: left + h * cell + 2, y: 11 }, chart).textContent = `${h}h`;
  days.forEach((d, i) => { el("text", { x: 0, y: top + i * cell + 15 }, chart).textContent = d; });
  rows.forEach((row) => {
    const shade = 0.1 + 0.9 * (row.tickets / max);
    const rect = el("rect", {
      x: left + row.hour * cell, y: top + (row.weekday - 1) * cell, width: cell - 2, height: cell - 2,
      fill: `rgba(200, 60, 40, ${shade.toFixed(3)})`, class: "cell",
    }, chart);
    el("title", {}, rect).textContent = `${days[row.weekday - 1]} ${row.hour}h: ${row.tickets}`;
  });
  done(container, rows.length);
}

function drawPositions(container, rows, geography) {
  const bounds = geography.nyc;
  const width = 560, height = Math.round(width * (bounds.north - bounds.south) / ((bounds.east - bounds.west) * 0.76));
  const chart = svg(container, width, height);
  const x = (lon) => ((lon - bounds.west) / (bounds.east - bounds.west)) * width;
  const y = (lat) => ((bounds.north - lat) / (bounds.north - bounds.south)) * height;
  el("rect", { x: 0, y: 0, width, height, fill: "#eef3f8", stroke: "#9aa" }, chart);
  const max = Math.max(1, ...rows.map((r) => r.total));
  let drawn = 0;
  rows.forEach((row) => {
    if (row.latitude == null || row.longitude == null) return;
    const r = 1 + 4 * Math.sqrt(row.total / max);
    el("circle", {
      cx: x(row.longitude).toFixed(1), cy: y(row.latitude).toFixed(1), r: r.toFixed(2),
      fill: row.drone_violations > 0 ? "#e76f51" : "#264653", "fill-opacity": 0.6, class: "point",
    }, chart);
    drawn += 1;
  });
  for (const [name, box] of Object.entries(geography.boroughs)) {
    el("rect", {
      x: x(box.west), y: y(box.north), width: x(box.east) - x(box.west), height: y(box.south) - y(box.north),
      fill: "none", stroke: "#7a8ca3", "stroke-dasharray": "4 3",
    }, chart);
    el("text", { x: x(box.west) + 3, y: y(box.north) + 12 }, chart).textContent = name;
  }
  done(container, drawn);
}

// The report's position cells on the shared borough map (nyc_map.js). The table gives each
// cell's centre; the cell size is the smallest gap between two centres (cells sit on one grid),
// or ANALYTICS_POSITION_CELL_DEG's default when no two cells are neighbours.
async function drawDensityMap(container, rows) {
  const cells = rows.filter((row) => row.latitude != null && row.longitude != null && row.total > 0);
  let map;
  try {
    map = NycMap.draw(container, await NycMap.loadBoroughs());
  } catch (error) {
    return empty(container, `The borough map could not be drawn: ${error.message}`);
  }
  const gaps = (key) => {
    const values = [...new Set(cells.map((row) => row[key]))].sort((a, b) => a - b);
    return values.slice(1).map((value, i) => value - values[i]).filter((gap) => gap > 1e-9);
  };
  const found = [...gaps("latitude"), ...gaps("longitude")];
  const size = found.length ? Math.min(...found) : 0.005;
  const max = Math.log1p(Math.max(1, ...cells.map((row) => row.total)));
  cells.forEach((row) => {
    const shade = 0.1 + 0.7 * (Math.log1p(row.total) / max);
    const cell = map.cell(row.longitude, row.latitude, size, {
      fill: row.drone_violations > 0 ? "#e76f51" : "#9b2226", "fill-opacity": shade.toFixed(3),
    });
    map.el("title", {}, cell).textContent =
      `${row.tickets} tickets, ${row.drone_violations} drone violations`;
  });
  const note = document.createElement("p");
  note.className = "empty";
  note.textContent = `${cells.length} cells of ${size.toFixed(4)}°; darker = more tickets (log scale).`;
  container.appendChild(note);
  done(container, cells.length);
}

function tableWithHead(headers) {
  const table = document.createElement("table");
  const row = table.createTHead().insertRow();
  headers.forEach((text) => {
    const th = document.createElement("th");
    th.textContent = text;
    row.appendChild(th);
  });
  return table;
}

function textCell(tr, text) {
  const td = tr.insertCell();
  td.textContent = String(text);
  return td;
}

function drawFleet(container, rows) {
  if (!rows.length) return empty(container, "No live drone data stored yet.");
  const table = tableWithHead(
    ["drone", "messages", "violations", "alerts", "alert rate", "mean resolution", "battery", "state"]);
  const body = document.createElement("tbody");
  rows.forEach((row) => {
    const tr = body.insertRow();
    tr.className = "drone";
    const battery = Number(row.latest_battery_pct ?? 0);
    [
      row.drone_id, row.messages, row.violations, row.alerts,
      row.alert_rate == null ? "—" : `${(100 * row.alert_rate).toFixed(1)} %`,
      row.mean_resolution_s == null ? "—" : `${Number(row.mean_resolution_s).toFixed(0)} s`,
    ].forEach((value) => textCell(tr, value));
    const batteryCell = tr.insertCell();
    const bar = document.createElement("span");
    bar.className = "battery";
    bar.style.width = `${(battery * 0.6).toFixed(0)}px`;
    batteryCell.append(bar, ` ${battery.toFixed(0)} %`);
    textCell(tr, row.latest_state ?? "—");
  });
  table.appendChild(body);
  container.appendChild(table);
  done(container, rows.length);
}

function drawQuality(container, rows) {
  const table = tableWithHead(["metric", "value"]);
  const body = document.createElement("tbody");
  rows.forEach((row) => {
    const tr = body.insertRow();
    textCell(tr, String(row.metric).replaceAll("_", " "));
    textCell(tr, typeof row.value === "number" ? row.value.toLocaleString("en-US") : row.value);
  });
  table.appendChild(body);
  container.appendChild(table);
  done(container, rows.length);
}

// Header status: when the report was computed and which stored data it covers (the "as of"
// stamps of the manifest), and the token-protected refresh (an incremental run, then a redraw).
function plural(n, word) {
  return `${Number(n).toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
}

function coverageText(inputs) {
  const part = (label, input) => input
    ? `${label} ${plural(input.rows, "row")} in ${plural(input.files, "file")}`
      + (input.latest_batch == null ? "" : ` (batches ≤ ${input.latest_batch})`)
    : `${label}: none`;
  return "covers " + [
    part("tickets", inputs.tickets), part("drone status", inputs.drone_status),
    part("drone violations", inputs.drone_violations), part("alerts", inputs.drone_alerts),
    part("quarantine", inputs.quarantine),
  ].join(" · ");
}

function drawStatus(manifest) {
  const computedAt = document.getElementById("report-computed-at");
  const coverage = document.getElementById("report-coverage");
  const at = manifest.computed_at || manifest.finished_at;
  computedAt.textContent = `Computed at ${at} (${manifest.mode || "full"} run) —`;
  computedAt.dataset.computedAt = at;
  coverage.textContent = coverageText(manifest.inputs || {});
}

function clearCharts() {
  document.querySelectorAll("[data-chart]").forEach((container) => {
    container.replaceChildren();
    container.dataset.rendered = "false";
    delete container.dataset.items;
  });
}

async function waitForRun() {
  for (;;) {
    const state = await getJson("/api/runs/current");
    if (!state.running) return state;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function refresh() {
  const status = document.getElementById("refresh-status");
  const button = document.getElementById("refresh-button");
  const token = document.getElementById("refresh-token").value;
  button.disabled = true;
  status.textContent = "running…";
  try {
    const response = await fetch("/api/runs", { method: "POST", headers: { Authorization: `Bearer ${token}` } });
    if (response.status === 401) throw new Error("wrong token");
    if (response.status === 403) throw new Error("runs are disabled (read-only dashboard)");
    if (!response.ok && response.status !== 409) throw new Error(`HTTP ${response.status}`);
    const state = await waitForRun();
    if (state.last_error) throw new Error(state.last_error);
    clearCharts();
    await main();
    status.textContent = "refreshed";
  } catch (error) {
    status.textContent = `refresh failed: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

async function setUpRefresh() {
  const button = document.getElementById("refresh-button");
  button.addEventListener("click", refresh);
  try {
    const health = await getJson("/healthz");
    if (!health.runs_enabled) {
      button.disabled = true;
      document.getElementById("refresh-status").textContent = "read-only: runs are disabled";
    }
  } catch (error) {
    document.getElementById("refresh-status").textContent = "health check failed";
  }
}

async function main() {
  const summary = document.getElementById("report-summary");
  let manifest;
  try {
    manifest = await getJson("/api/reports/latest");
  } catch (error) {
    summary.textContent = "No report yet: run `prestacop-analytics run` or POST /api/runs.";
    document.querySelectorAll("[data-chart]").forEach((c) => empty(c, "No report yet."));
    return;
  }
  const tickets = manifest.inputs.tickets.rows.toLocaleString("en-US");
  summary.textContent = `Report ${manifest.run_id} — ${tickets} stored tickets — Spark ${manifest.spark_version}, ${manifest.total_seconds} s`;
  drawStatus(manifest);
  const table = async (name) => (await getJson(`/api/reports/${manifest.run_id}/tables/${name}`)).rows;
  const chart = (name) => document.querySelector(`[data-chart="${name}"]`);
  const [codes, heat, positions, fleet, quality, geography] = await Promise.all([
    table("top_violation_codes"), table("tickets_by_hour_weekday"), table("violations_by_position"),
    table("fleet"), table("data_quality"), getJson("/api/geography"),
  ]);
  drawTopCodes(chart("top_codes"), codes);
  drawHeatmap(chart("hour_weekday"), heat);
  drawPositions(chart("positions"), positions, geography);
  drawDensityMap(chart("density_map"), positions);
  drawFleet(chart("fleet"), fleet);
  drawQuality(chart("data_quality"), quality);
}

setUpRefresh();
main();
