// The operator / driver page: fleet table with live state, a charger's sessions, a session with
// its power, price, carbon intensity and plan, and the driver's departure / energy form.
// Plain JavaScript against the HTTP API (docs/openapi.json); no build step.
"use strict";

const API = (window.CSMS_API || "").replace(/\/$/, "");
const view = document.getElementById("view");
let timer = null;

// ---------------------------------------------------------------- sign-in
function takeTokenFromFragment() {
  const m = location.hash.match(/(?:^#|&)(?:id_token|token)=([^&]+)/);
  if (m) {
    sessionStorage.setItem("csms-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + "#/");
  }
}
const token = () => sessionStorage.getItem("csms-token");

async function api(method, path, body) {
  const response = await fetch(API + path, {
    method,
    headers: { "Authorization": "Bearer " + token(), ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (response.status === 401) { showSignIn(); throw new Error("signed out"); }
  if (!response.ok) throw new Error((data && data.message) || response.statusText);
  return data;
}

function showSignIn() {
  if (window.CSMS_SIGN_IN) {  // Cognito's hosted sign-in page returns here with #id_token=...
    document.getElementById("signin-link").href = window.CSMS_SIGN_IN;
    document.getElementById("signin-cognito").hidden = false;
  }
  document.getElementById("signin").hidden = false;
  view.hidden = true;
}
document.getElementById("signin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem("csms-token", document.getElementById("token").value.trim());
  document.getElementById("signin").hidden = true;
  view.hidden = false;
  route();
});

// ---------------------------------------------------------------- helpers
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const kw = (w) => (w == null ? "–" : (w / 1000).toFixed(1));
const money = (v) => (v == null ? "–" : "£" + v.toFixed(2));
const when = (iso) => (iso ? new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "short" }) : "–");
const hm = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
function message(text, error) {
  const el = document.getElementById("message");
  if (el) { el.textContent = text; el.className = "message" + (error ? " error" : ""); el.hidden = !text; }
}
function every(ms, fn) { clearInterval(timer); timer = setInterval(fn, ms); }

// ---------------------------------------------------------------- views
async function fleet() {
  const chargers = await api("GET", "/v1/chargers");
  const rows = chargers.map((c) => {
    const states = c.connectors.map((k) => `<span class="state ${esc(k.state)}" title="${esc(k.status)}">${k.id}: ${esc(k.state.replace("_", " "))}</span>`).join(" ") || "–";
    return `<tr data-charger="${esc(c.id)}"><td><a href="#/chargers/${encodeURIComponent(c.id)}">${esc(c.id)}</a></td>
      <td>${c.online ? "online" : "offline"}</td><td>${states}</td><td class="num">${kw(c.power_w)}</td>
      <td>${esc([c.vendor, c.model].filter(Boolean).join(" ")) || "–"}</td><td>${when(c.last_seen)}</td></tr>`;
  }).join("");
  const charging = chargers.filter((c) => c.connectors.some((k) => k.state === "charging")).length;
  view.innerHTML = `<h1>Chargers</h1>
    <div class="cards"><div class="card">chargers<b>${chargers.length}</b></div>
    <div class="card">online<b>${chargers.filter((c) => c.online).length}</b></div>
    <div class="card">charging<b>${charging}</b></div>
    <div class="card">power kW<b>${kw(chargers.reduce((s, c) => s + c.power_w, 0))}</b></div></div>
    <table id="fleet"><thead><tr><th>Charger</th><th>Connection</th><th>Connectors</th><th class="num">kW</th><th>Model</th><th>Last seen</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="6">No chargers yet.</td></tr>'}</tbody></table>`;
}

function sessionRows(sessions) {
  return sessions.map((s) => `<tr data-session="${s.transaction_id}">
    <td><a href="#/chargers/${encodeURIComponent(s.charger)}/sessions/${s.transaction_id}">${s.transaction_id}</a></td>
    <td>${esc(s.charger)}</td><td>${when(s.started_at)}</td><td>${s.active ? "plugged in" : when(s.stopped_at)}</td>
    <td class="num">${s.energy_kwh.toFixed(2)}</td><td class="num">${money(s.cost_gbp)}</td>
    <td class="num">${s.co2_kg == null ? "–" : s.co2_kg.toFixed(2)}</td><td class="num">${money(s.savings_gbp)}</td></tr>`).join("");
}
const sessionTable = (data) => `<table id="sessions"><thead><tr><th>Session</th><th>Charger</th><th>Start</th><th>End</th>
  <th class="num">kWh</th><th class="num">Cost</th><th class="num">kg CO2</th><th class="num">Saved</th></tr></thead>
  <tbody>${sessionRows(data.sessions) || '<tr><td colspan="8">No sessions.</td></tr>'}</tbody>
  <tfoot><tr><th>${data.totals.sessions}</th><th colspan="3">total</th><th class="num">${data.totals.energy_kwh.toFixed(2)}</th>
  <th class="num">${money(data.totals.cost_gbp)}</th><th class="num">${data.totals.co2_kg.toFixed(2)}</th><th class="num">${money(data.totals.savings_gbp)}</th></tr></tfoot></table>`;

async function allSessions() {
  view.innerHTML = `<h1>Sessions</h1>${sessionTable(await api("GET", "/v1/sessions"))}`;
}

function preferenceForm(id, pref) {
  const local = pref.departure ? new Date(pref.departure) : null;
  const value = local ? new Date(local.getTime() - local.getTimezoneOffset() * 60000).toISOString().slice(0, 16) : "";
  return `<form class="pref" id="preference" data-charger="${esc(id)}">
    <label>Leaving at <input type="datetime-local" name="departure" value="${value}"></label>
    <label>Energy needed (kWh) <input type="number" name="energy_kwh" min="0.1" max="1000" step="0.1" value="${pref.energy_kwh ?? ""}"></label>
    <label>Carbon price (£/t CO2) <input type="number" name="carbon_price" min="0" max="10000" step="1" value="${pref.carbon_price_gbp_per_t ?? ""}" placeholder="platform's"></label>
    <label><span><input type="checkbox" name="charge_now" ${pref.charge_now ? "checked" : ""}> charge now</span></label>
    <button>Save and re-plan</button></form><p id="message" class="message" hidden></p>`;
}

function bindPreference(after) {
  const form = document.getElementById("preference");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { charge_now: form.charge_now.checked };
    if (form.departure.value) body.departure = new Date(form.departure.value).toISOString();
    if (form.energy_kwh.value) body.energy_kwh = Number(form.energy_kwh.value);
    if (form.carbon_price.value) body.carbon_price_gbp_per_t = Number(form.carbon_price.value);
    try {
      const saved = await api("PUT", `/v1/chargers/${encodeURIComponent(form.dataset.charger)}/preference`, body);
      message(`Saved: leaving ${when(saved.departure)}, ${saved.energy_kwh ?? "default"} kWh; re-planning ${saved.replan}.`);
      if (after) after();
    } catch (err) { message(err.message, true); }
  });
}

async function charger(id) {
  const enc = encodeURIComponent(id);
  const [c, pref, sessions] = await Promise.all([api("GET", `/v1/chargers/${enc}`), api("GET", `/v1/chargers/${enc}/preference`), api("GET", `/v1/chargers/${enc}/sessions`)]);
  view.innerHTML = `<h1>${esc(c.id)}</h1>
    <div class="cards"><div class="card">connection<b>${c.online ? "online" : "offline"}</b></div>
    <div class="card">power kW<b>${kw(c.power_w)}</b></div><div class="card">firmware<b>${esc(c.firmware_version || "–")}</b></div></div>
    <div id="charger-sections"></div>
    <h2>Driver's preference</h2>${preferenceForm(c.id, pref)}<h2>Sessions</h2>${sessionTable(sessions)}`;
  bindPreference();
  const box = document.getElementById("charger-sections");
  for (const add of CHARGER_SECTIONS) {  // web/<feature>.js sections; one failing never hides the page
    const el = document.createElement("section");
    box.append(el);
    try { await add(c, el); } catch (err) { el.innerHTML = `<p class="message error">${esc(err.message)}</p>`; }
  }
}

// The chart: power (kW, line), the plan (shaded), price (p/kWh, step) and carbon (g/kWh, step).
function chart(s) {
  const W = 900, H = 300, L = 50, R = 60, T = 15, B = 30;
  const times = [...s.timeline.map((p) => p.at), ...(s.plan || []).flatMap((p) => [p[0], p[1]]), s.started_at, s.stopped_at].filter(Boolean).map((t) => Date.parse(t));
  const t0 = Math.min(...times), t1 = Math.max(...times, t0 + 3600e3);
  const signals = s.signals.filter((r) => Date.parse(r.start) + 1800e3 > t0 && Date.parse(r.start) < t1);
  const x = (t) => L + ((Date.parse(t) - t0) / (t1 - t0)) * (W - L - R);
  const kwMax = Math.max(7.4, ...s.timeline.map((p) => (p.power_w || 0) / 1000), ...(s.plan || []).map((p) => p[2] / 1000));
  const prices = signals.map((r) => r.price_p_per_kwh || 0);
  const pLo = Math.min(0, ...prices), pHi = Math.max(1, ...prices);  // Agile prices go below zero
  const cMax = Math.max(1, ...signals.map((r) => r.carbon_g_per_kwh || 0));
  const y = (v, max, lo = 0) => H - B - ((v - lo) / (max - lo)) * (H - T - B);
  const plan = (s.plan || []).map((p) => `<rect class="plan" x="${x(p[0])}" y="${y(p[2] / 1000, kwMax)}" width="${Math.max(1, x(p[1]) - x(p[0]))}" height="${H - B - y(p[2] / 1000, kwMax)}" fill="#9cc8f0" opacity=".45"/>`).join("");
  const steps = (key, max, lo) => signals.map((r) => {
    const a = x(r.start), b = x(new Date(Date.parse(r.start) + 1800e3).toISOString());
    return `M${Math.max(L, a)},${y(r[key] || 0, max, lo)}H${Math.min(W - R, b)}`;
  }).join("");
  const points = s.timeline.filter((p) => p.power_w != null);
  const power = points.map((p, i) => `${i ? "L" : "M"}${x(p.at)},${y(p.power_w / 1000, kwMax)}`).join("");
  const dots = points.map((p) => `<circle cx="${x(p.at)}" cy="${y(p.power_w / 1000, kwMax)}" r="3" fill="#15324b"/>`).join("");
  const ticks = [];
  for (let t = Math.ceil(t0 / 3600e3) * 3600e3; t <= t1; t += 3600e3 * Math.max(1, Math.round((t1 - t0) / 3600e3 / 8))) {
    const iso = new Date(t).toISOString();
    ticks.push(`<line x1="${x(iso)}" x2="${x(iso)}" y1="${T}" y2="${H - B}" stroke="#eee"/><text x="${x(iso)}" y="${H - 10}" font-size="11" text-anchor="middle">${hm(iso)}</text>`);
  }
  return `<svg class="chart" id="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="power, plan, price and carbon">
    ${ticks.join("")}${plan}
    <path d="${steps("price_p_per_kwh", pHi, pLo)}" stroke="#d07a00" stroke-width="2" fill="none"/>
    <path d="${steps("carbon_g_per_kwh", cMax, 0)}" stroke="#5a9e4b" stroke-width="1.5" stroke-dasharray="4 3" fill="none"/>
    <path d="${power}" stroke="#15324b" stroke-width="2.5" fill="none"/>${dots}
    <text x="${L - 8}" y="${T + 10}" font-size="11" text-anchor="end">${kwMax.toFixed(0)} kW</text>
    <text x="${W - R + 6}" y="${T + 10}" font-size="11" fill="#d07a00">${pHi.toFixed(0)} p/kWh</text>
    <text x="${W - R + 6}" y="${H - B}" font-size="11" fill="#d07a00">${pLo.toFixed(0)} p</text>
    <text x="${W - R + 6}" y="${T + 24}" font-size="11" fill="#5a9e4b">${cMax.toFixed(0)} g/kWh</text>
    <line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#999"/></svg>
    <p class="legend"><span><i class="swatch" style="background:#15324b"></i>power</span><span><i class="swatch" style="background:#9cc8f0"></i>plan</span>
    <span><i class="swatch" style="background:#d07a00"></i>price</span><span><i class="swatch" style="background:#5a9e4b"></i>carbon intensity</span></p>`;
}

const planTable = (plan) => `<table id="plan"><thead><tr><th>From</th><th>To</th><th class="num">kW</th></tr></thead><tbody>${
  (plan || []).map((p) => `<tr><td>${when(p[0])}</td><td>${when(p[1])}</td><td class="num">${kw(p[2])}</td></tr>`).join("") ||
  '<tr><td colspan="3">No plan yet (the scheduler plans plugged-in sessions).</td></tr>'}</tbody></table>`;

async function session(id, tx) {
  const enc = encodeURIComponent(id);
  const load = () => api("GET", `/v1/chargers/${enc}/sessions/${tx}`);
  const s = await load();
  const pref = await api("GET", `/v1/chargers/${enc}/preference`);
  view.innerHTML = `<h1>Session ${s.transaction_id} on <a href="#/chargers/${enc}">${esc(s.charger)}</a></h1>
    <div class="cards"><div class="card">energy kWh<b id="energy">${s.energy_kwh.toFixed(2)}</b></div>
    <div class="card">cost<b id="cost">${money(s.cost_gbp)}</b></div>
    <div class="card">CO2 kg<b>${s.co2_kg == null ? "–" : s.co2_kg.toFixed(2)}</b></div>
    <div class="card">saved vs plug-in<b>${money(s.savings_gbp)}</b></div>
    <div class="card">${s.active ? "plugged in since" : "ended"}<b>${when(s.active ? s.started_at : s.stopped_at)}</b></div></div>
    <div id="chart-box">${chart(s)}</div>
    ${s.active ? "<h2>When are you leaving?</h2>" + preferenceForm(s.charger, pref) : ""}
    <h2>Plan</h2><div id="plan-box">${planTable(s.plan)}</div>`;
  const refresh = async () => {
    const fresh = await load();
    document.getElementById("chart-box").innerHTML = chart(fresh);
    document.getElementById("plan-box").innerHTML = planTable(fresh.plan);
    document.getElementById("energy").textContent = fresh.energy_kwh.toFixed(2);
  };
  if (s.active) { bindPreference(refresh); every(3000, refresh); }
}

// ---------------------------------------------------------------- firmware (operators; docs/firmware.md)
function progressBar(p) {
  const pct = (n) => (p.total ? (100 * n) / p.total : 0);
  return `<span class="bar" title="${esc(JSON.stringify(p.by_state))}"><i class="ok" style="width:${pct(p.installed)}%"></i><i class="bad" style="width:${pct(p.failed + p.timed_out)}%"></i><i class="busy" style="width:${pct(p.in_flight)}%"></i></span>`;
}
const counts = (p) => `installed ${p.installed} · failed ${p.failed} · timed out ${p.timed_out} · in flight ${p.in_flight} · scheduled ${p.scheduled}`;

async function firmware() {
  const [campaigns, images] = await Promise.all([api("GET", "/v1/firmware/campaigns"), api("GET", "/v1/firmware/images")]);
  const rows = campaigns.map((c) => `<tr data-campaign="${esc(c.id)}"><td><a href="#/firmware/${encodeURIComponent(c.id)}">${esc(c.name)}</a></td>
    <td>${esc(c.status)}${c.halted_reason ? ": " + esc(c.halted_reason) : ""}</td><td>${c.wave} / ${c.wave_sizes.length}</td>
    <td>${progressBar(c.progress)} <span class="counts">${counts(c.progress)}</span></td><td>${when(c.created_at)}</td></tr>`).join("");
  const imageRows = images.map((i) => `<tr><td>${esc(i.id)}</td><td>${esc(i.vendor)} ${esc(i.model)}</td><td>${esc(i.version)}</td>
    <td class="num">${i.size_bytes.toLocaleString()}</td><td>${esc(i.status)}</td></tr>`).join("");
  view.innerHTML = `<h1>Firmware campaigns</h1>
    <table id="campaigns"><thead><tr><th>Campaign</th><th>Status</th><th>Wave</th><th>Progress</th><th>Started</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="5">No campaigns yet.</td></tr>'}</tbody></table>
    <h2>Images</h2><p>Upload with <code>csms firmware upload FILE --vendor V --model M --version X</code>; start a campaign with
    <code>csms firmware campaign create --name N --image ID --waves 1,10,100</code>.</p>
    <table id="images"><thead><tr><th>Id</th><th>Model</th><th>Version</th><th class="num">Bytes</th><th>Status</th></tr></thead>
    <tbody>${imageRows || '<tr><td colspan="5">No images yet.</td></tr>'}</tbody></table>`;
}

async function campaign(id) {
  const c = await api("GET", `/v1/firmware/campaigns/${encodeURIComponent(id)}`);
  const rows = c.chargers.map((t) => `<tr><td><a href="#/chargers/${encodeURIComponent(t.id)}">${esc(t.id)}</a></td><td>${t.wave}</td>
    <td><span class="state fw-${esc(t.state)}">${esc(t.state)}</span></td><td>${esc(t.from_version)} → ${esc(t.target_version)}</td>
    <td class="num">${t.attempts}</td><td>${when(t.heard_at || t.sent_at)}</td><td>${esc(t.detail)}</td></tr>`).join("");
  const failed = c.progress.failed + c.progress.timed_out;
  view.innerHTML = `<h1>${esc(c.name)} <small>(${esc(c.status)})</small></h1>
    <p id="message" class="message" hidden></p>
    <p>${progressBar(c.progress)} <span id="counts" class="counts">${counts(c.progress)}</span></p>
    ${c.halted_reason ? `<p class="message error">Halted: ${esc(c.halted_reason)}</p>` : ""}
    ${failed ? `<p><button id="retry">Retry ${failed} failed charger${failed > 1 ? "s" : ""} (new download URLs)</button></p>` : ""}
    <table id="targets"><thead><tr><th>Charger</th><th>Wave</th><th>State</th><th>Version</th><th class="num">Tries</th><th>Last heard</th><th>Detail</th></tr></thead>
    <tbody>${rows}</tbody></table>`;
  const button = document.getElementById("retry");
  if (button) button.addEventListener("click", async () => {
    try { const r = await api("POST", `/v1/firmware/campaigns/${encodeURIComponent(id)}/retry`); message(`${r.retried} queued again`); }
    catch (err) { message(err.message, true); }
  });
}

// ---------------------------------------------------------------- routing
// Views in their own files (web/<feature>.js, loaded after this one) register here: a path pattern
// (its groups are passed, URL-decoded, to show) and, optionally, a link in the header.
const VIEWS = [];
// Sections of the charger page from web/<feature>.js: add(charger, element), drawn in load order.
const CHARGER_SECTIONS = [];
function registerChargerSection(add) { CHARGER_SECTIONS.push(add); }
let ME = { subject: "", operator: false };  // the signed-in caller (GET /v1/me)
function registerView(pattern, show, navLabel, navHash) {
  VIEWS.push({ pattern, show });
  if (navLabel) {
    const a = document.createElement("a");
    a.href = navHash; a.textContent = navLabel;
    document.querySelector("header nav").append(" ", a);
  }
}

// Sections that decorate a view once it is shown (web/<feature>.js): fn(path, me) runs after every view.
const AFTER_VIEW = [];
function afterView(fn) { AFTER_VIEW.push(fn); }

async function route() {
  clearInterval(timer);
  if (!token()) return showSignIn();
  const path = location.hash.replace(/^#/, "") || "/";
  try {
    const me = ME = await api("GET", "/v1/me");
    document.getElementById("who").textContent = (me.operator ? "operator " : "driver ") + me.subject;
    let m;
    const extra = VIEWS.find((v) => v.pattern.test(path));
    if (extra) await extra.show(...path.match(extra.pattern).slice(1).map(decodeURIComponent));
    else if ((m = path.match(/^\/chargers\/([^/]+)\/sessions\/(\d+)$/))) await session(decodeURIComponent(m[1]), m[2]);
    else if ((m = path.match(/^\/chargers\/([^/]+)$/))) await charger(decodeURIComponent(m[1]));
    else if (path === "/sessions") await allSessions();
    else if (path === "/firmware") { await firmware(); every(5000, () => firmware().catch(() => {})); }
    else if ((m = path.match(/^\/firmware\/([^/]+)$/))) await campaign(decodeURIComponent(m[1]));
    else { await fleet(); every(5000, () => fleet().catch(() => {})); }
    for (const fn of AFTER_VIEW) await fn(path, me);
  } catch (err) {
    if (err.message !== "signed out") view.innerHTML = `<p class="message error">${esc(err.message)}</p>`;
  }
}

takeTokenFromFragment();
window.addEventListener("hashchange", route);
// After the deferred feature scripts (web/<feature>.js) have registered their views.
window.addEventListener("DOMContentLoaded", route);
