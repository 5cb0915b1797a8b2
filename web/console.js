// The operator console (issue 22): a charger's OCPP frame log with live tail and search, alerts,
// session tools (close a stuck transaction, CSV export) and chargers that tried to connect unregistered.
// Uses app.js's api, esc, view, every, message, when, registerView and afterView.
"use strict";

// ---------------------------------------------------------------- frame log
function frameRow(f) {
  return `<tr class="frame ${esc(f.direction)}" data-at="${esc(f.at)}"><td class="at">${esc(f.at.slice(11, 23))}</td>
    <td>${f.direction === "in" ? "→ in" : "← out"}</td><td>${esc(f.action || "")}</td><td><code>${esc(f.text)}</code></td></tr>`;
}

async function frameLog(id) {
  const enc = encodeURIComponent(id);
  const query = (extra) => {
    const q = new URLSearchParams({ limit: "100", ...extra });
    const form = document.getElementById("log-search");
    if (form && form.q.value) q.set("q", form.q.value);
    if (form && form.direction.value) q.set("direction", form.direction.value);
    return q.toString();
  };
  view.innerHTML = `<h1>Frames of <a href="#/chargers/${enc}">${esc(id)}</a></h1>
    <form id="log-search" class="pref"><label>Search <input name="q" placeholder="e.g. StatusNotification"></label>
    <label>Direction <select name="direction"><option value="">both</option><option value="in">in (from the charger)</option>
    <option value="out">out (to the charger)</option></select></label><button>Search</button>
    <label><span><input type="checkbox" name="live" checked> live tail</span></label></form>
    <p id="log-state" class="counts"></p><p id="message" class="message" hidden></p>
    <table id="frames"><thead><tr><th>Time (UTC)</th><th>Direction</th><th>Action</th><th>Frame</th></tr></thead><tbody></tbody></table>`;
  const body = document.querySelector("#frames tbody");
  let newest = null;
  const load = async () => {
    const page = await api("GET", `/v1/chargers/${enc}/log?${query({})}`);
    body.innerHTML = page.frames.map(frameRow).join("") || '<tr><td colspan="4">No frames.</td></tr>';
    newest = page.frames.length ? page.frames[0].at : newest;
    const s = page.logging;
    document.getElementById("log-state").textContent = s.always ? "Every frame is logged here (kept 7 days)."
      : s.until ? `Logged until ${when(s.until)}.` : "The log is off for this charger (in AWS it costs a write per frame: csms charger log --on HOURS).";
  };
  const tail = async () => {
    if (!document.getElementById("log-search").live.checked) return;
    const page = await api("GET", `/v1/chargers/${enc}/log?${query(newest ? { after: newest } : {})}`);
    if (!page.frames.length) return;
    if (!newest) body.innerHTML = "";
    body.insertAdjacentHTML("afterbegin", page.frames.map(frameRow).join(""));
    newest = page.frames[0].at;
    while (body.rows.length > 500) body.deleteRow(-1);
  };
  document.getElementById("log-search").addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await load(); } catch (err) { message(err.message, true); }
  });
  await load();
  every(2000, () => tail().catch(() => {}));
}
registerView(/^\/chargers\/([^/]+)\/log$/, frameLog);

// A link from the charger page to its frame log (operators)
afterView(async (path, me) => {
  const m = path.match(/^\/chargers\/([^/]+)$/);
  if (!m || !me.operator) return;
  const h1 = view.querySelector("h1");
  if (h1) h1.insertAdjacentHTML("beforeend", ` <small><a id="log-link" href="#/chargers/${m[1]}/log">OCPP frames</a></small>`);
});

// ---------------------------------------------------------------- alerts
const ALERT_TEXT = {
  offline: (d) => `offline since ${when(d.since)} (${d.minutes} min)`,
  faulted: (d) => `connector ${d.connector_id ?? "?"} ${d.status || ""}: ${d.error_code || ""}${d.info ? " — " + d.info : ""}${d.vendor_error_code ? " (vendor " + d.vendor_error_code + ")" : ""}`,
  long_transaction: (d) => `transaction ${d.transaction_id} on connector ${d.connector_id} open ${d.hours} h (since ${when(d.started_at)})`,
  profiles_refused: (d) => `${d.purpose} refused: ${d.status}`,
  auth_failures: (d) => `${d.failures} failed handshakes from ${d.source} (${d.reason})`,
};
const alertRows = (alerts) => alerts.map((a) => `<tr class="alert ${esc(a.kind)}" data-kind="${esc(a.kind)}"><td>${when(a.at)}</td>
  <td><span class="state alert-${esc(a.kind)}">${esc(a.kind.replace("_", " "))}</span></td>
  <td><a href="#/chargers/${encodeURIComponent(a.charger)}">${esc(a.charger)}</a></td>
  <td>${esc((ALERT_TEXT[a.kind] || ((d) => JSON.stringify(d)))(a.detail))}</td></tr>`).join("");
const alertTable = (alerts) => `<table id="alerts"><thead><tr><th>When</th><th>Alert</th><th>Charger</th><th>What</th></tr></thead>
  <tbody>${alertRows(alerts) || '<tr><td colspan="4">No alerts.</td></tr>'}</tbody></table>`;

async function consoleView() {
  const show = async () => {
    const alerts = await api("GET", "/v1/alerts?hours=168");
    const parts = [`<h1>Console</h1><h2>Alerts (last 7 days)</h2>${alertTable(alerts)}`];
    for (const section of CONSOLE_SECTIONS) parts.push(await section());
    view.innerHTML = parts.join("");
    for (const bind of CONSOLE_BINDINGS) bind();
  };
  await show();
  every(5000, () => show().catch(() => {}));
}
// further console sections: () => html, and what they bind afterwards
const CONSOLE_SECTIONS = [];
const CONSOLE_BINDINGS = [];
registerView(/^\/console$/, consoleView, "Console", "#/console");

// A charger's own alerts on its page (operators)
afterView(async (path, me) => {
  const m = path.match(/^\/chargers\/([^/]+)$/);
  if (!m || !me.operator) return;
  const alerts = await api("GET", `/v1/alerts?hours=168&charger=${m[1]}`);
  if (alerts.length) view.insertAdjacentHTML("beforeend", `<h2>Alerts</h2>${alertTable(alerts)}`);
});

// ---------------------------------------------------------------- session tools (operators)
async function downloadCsv() {
  let cursor = null, body = "";
  do {  // every page; the header once
    const response = await fetch(API + "/v1/sessions?format=csv&limit=100" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""),
      { headers: { "Authorization": "Bearer " + token() } });
    if (!response.ok) throw new Error(response.statusText);
    const text = await response.text();
    body += body ? text.slice(text.indexOf("\n") + 1) : text;
    cursor = response.headers.get("X-Next-Cursor");
  } while (cursor);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([body], { type: "text/csv" }));
  link.download = "sessions.csv";
  document.body.append(link); link.click(); link.remove();
}

afterView(async (path, me) => {
  if (!me.operator || !(path === "/sessions" || /^\/chargers\/[^/]+$/.test(path))) return;
  const table = document.getElementById("sessions");
  if (!table) return;
  if (path === "/sessions") {
    table.insertAdjacentHTML("beforebegin", '<p><button id="csv">Download CSV</button></p>');
    document.getElementById("csv").addEventListener("click", () => downloadCsv().catch((err) => message(err.message, true)));
  }
  if (!document.getElementById("message")) table.insertAdjacentHTML("beforebegin", '<p id="message" class="message" hidden></p>');
  for (const row of table.querySelectorAll("tbody tr[data-session]")) {
    if (row.cells[3].textContent !== "plugged in") continue;
    const charger = row.cells[1].textContent, tx = row.dataset.session;
    row.cells[3].insertAdjacentHTML("beforeend", ` <button class="close-session" title="close this stuck transaction: stopped now with the energy so far">Close</button>`);
    row.querySelector("button.close-session").addEventListener("click", async () => {
      if (!confirm(`Close transaction ${tx} on ${charger}? Use it when its StopTransaction never came.`)) return;
      try {
        const closed = await api("POST", `/v1/chargers/${encodeURIComponent(charger)}/sessions/${tx}/close`);
        message(`Transaction ${tx} closed with ${closed.energy_kwh.toFixed(3)} kWh (flagged operator_closed); connector released.`);
        row.cells[3].textContent = "closed by an operator";
      } catch (err) { message(err.message, true); }
    });
  }
});

// ---------------------------------------------------------------- unknown chargers (on the Console page)
let registeredNote = "";  // survives the page's refresh: the key is shown once
CONSOLE_SECTIONS.push(async () => {
  const rows = await api("GET", "/v1/unknown-chargers");
  const body = rows.map((r) => `<tr data-unknown="${esc(r.id)}"><td>${esc(r.id)}</td><td class="num">${r.count}</td>
    <td>${when(r.last_seen)}</td><td>${when(r.first_seen)}</td><td>${esc(r.source || "–")}</td>
    <td><button class="register" data-id="${esc(r.id)}">Register</button></td></tr>`).join("");
  return `<h2>Unknown chargers (tried to connect, not registered; last 7 days)</h2>
    <p id="message" class="message"${registeredNote ? "" : " hidden"}>${esc(registeredNote)}</p>
    <table id="unknown"><thead><tr><th>Charger id</th><th class="num">Tries</th><th>Last seen</th><th>First seen</th><th>Source</th><th></th></tr></thead>
    <tbody>${body || '<tr><td colspan="6">None.</td></tr>'}</tbody></table>`;
});
CONSOLE_BINDINGS.push(() => {
  for (const button of document.querySelectorAll("#unknown button.register")) {
    button.addEventListener("click", async () => {
      try {
        const made = await api("POST", "/v1/chargers", { id: button.dataset.id });
        registeredNote = `Registered ${made.id}. Its AuthorizationKey (shown once): ${made.authorization_key}`;
        message(registeredNote);
        button.closest("tr").remove();
      } catch (err) { message(err.message, true); }
    });
  }
});
