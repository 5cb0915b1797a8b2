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
