// Sites and grid-demand events (issue 16): each site's connection limit and its chargers, a form to
// add a site (POST: an existing id is refused, never overwritten), on a site's page a form to change it
// (PUT: replaces it) and to put a charger on it, and the events with what they target.
// Uses app.js's api, esc, view, message, when and registerView.
"use strict";

const siteLimit = (s) => (s.connection_kw == null ? "no limit" : `${s.connection_kw.toFixed(1)} kW`);
const eventLimit = (e) => (e.cap_kw != null ? `cap ${e.cap_kw} kW` : `−${e.reduction_kw} kW`);
const eventTarget = (e) => (e.target.kind === "fleet" ? "whole fleet" : `${e.target.kind}: ${e.target.ids.map(esc).join(", ")}`);

async function sitesView() {
  const [sites, events] = await Promise.all([api("GET", "/v1/sites"), api("GET", "/v1/events")]);
  const rows = sites.map((s) => `<tr data-site="${esc(s.id)}"><td><a href="#/sites/${encodeURIComponent(s.id)}">${esc(s.id)}</a></td>
    <td>${esc(s.name)}</td><td>${esc(s.region)}</td><td class="num">${siteLimit(s)}</td></tr>`).join("");
  const eventRows = events.filter((e) => !e.cancelled).map((e) => `<tr><td>${esc(e.id)}</td><td>${when(e.start)}</td>
    <td>${when(e.end)}</td><td>${eventLimit(e)}</td><td>${eventTarget(e)}</td></tr>`).join("");
  view.innerHTML = `<h1>Sites</h1><p id="message" class="message" hidden></p>
    <table id="sites"><thead><tr><th>Site</th><th>Name</th><th>Region</th><th class="num">Limit</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="4">No sites yet: every charger is planned on its own.</td></tr>'}</tbody></table>
    <h2>Add a site</h2>
    <form id="site-form" class="site-form">
      <label>Id <input name="id" required pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}"></label>
      ${siteFields({})}
      <button>Add</button>
    </form>
    <p>To change a site, open it.</p>
    <h2>Grid-demand events</h2>
    <table id="events"><thead><tr><th>Event</th><th>From</th><th>To</th><th>Limit</th><th>Covers</th></tr></thead>
    <tbody>${eventRows || '<tr><td colspan="5">No events.</td></tr>'}</tbody></table>
    <p>Add one with <code>csms event add --start … --end … --cap-kw 20 --region north</code> (or <code>--sites</code>, <code>--chargers</code>, <code>--reduction-kw</code>).</p>`;
  document.getElementById("site-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      await api("POST", "/v1/sites", { id: f.get("id"), ...siteBody(f) });  // 409 when the id exists
      await sitesView();
      message(`Saved ${f.get("id")}`);
    } catch (err) { message(err.message, true); }
  });
}

// The fields a site is made of, filled from site s (the add form: {}; a site's change form: the site).
function siteFields(s) {
  const value = (v) => (v == null ? "" : esc(String(v)));
  return `<label>Name <input name="name" maxlength="80" value="${value(s.name)}"></label>
      <label>Region <input name="region" maxlength="64" value="${value(s.region)}"></label>
      <label>Limit kW <input name="limit_kw" type="number" step="0.1" min="0.1" value="${value(s.limit_kw)}"></label>
      <label>Per phase A <input name="phase_limit_a" type="number" step="1" min="1" value="${value(s.phase_limit_a)}"></label>`;
}

function siteBody(f, s = {}) {
  const number = (k) => (f.get(k) ? Number(f.get(k)) : null);
  return { name: f.get("name"), region: f.get("region"), limit_kw: number("limit_kw"), phase_limit_a: number("phase_limit_a"),
    ...(s.phases ? { phases: s.phases, voltage_v: s.voltage_v } : {}) };  // a change keeps what the form does not show
}

async function siteView(id) {
  const s = await api("GET", `/v1/sites/${encodeURIComponent(id)}`);
  const rows = s.chargers.map((c) => `<tr><td><a href="#/chargers/${encodeURIComponent(c)}">${esc(c)}</a></td>
    <td><button data-remove="${esc(c)}">Take off</button></td></tr>`).join("");
  view.innerHTML = `<h1>Site ${esc(s.id)} <small>${esc(s.name)}</small></h1><p id="message" class="message" hidden></p>
    <p id="site-limit">Limit: <b>${siteLimit(s)}</b>${s.region ? ` · region ${esc(s.region)}` : ""}${s.phase_limit_a ? ` · ${s.phase_limit_a} A × ${s.phases} phases` : ""}</p>
    <table id="site-chargers"><thead><tr><th>Charger</th><th></th></tr></thead>
    <tbody>${rows || '<tr><td colspan="2">No chargers on this site.</td></tr>'}</tbody></table>
    <form id="assign-form"><label>Charger <input name="charger" required></label> <button>Put on this site</button></form>
    <h2>Change this site</h2>
    <form id="site-edit-form" class="site-form">${siteFields(s)} <button>Save changes</button></form>`;
  document.getElementById("site-edit-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await api("PUT", `/v1/sites/${encodeURIComponent(id)}`, siteBody(new FormData(e.target), s)); await siteView(id); message(`Saved ${id}`); }
    catch (err) { message(err.message, true); }
  });
  document.getElementById("assign-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const charger = new FormData(e.target).get("charger").trim();
    try { await api("PUT", `/v1/sites/${encodeURIComponent(id)}/chargers/${encodeURIComponent(charger)}`); await siteView(id); message(`${charger} is on ${id}`); }
    catch (err) { message(err.message, true); }
  });
  view.querySelectorAll("button[data-remove]").forEach((b) => b.addEventListener("click", async () => {
    try { await api("DELETE", `/v1/sites/${encodeURIComponent(id)}/chargers/${encodeURIComponent(b.dataset.remove)}`); await siteView(id); }
    catch (err) { message(err.message, true); }
  }));
}

registerView(/^\/sites$/, sitesView, "Sites", "#/sites");
registerView(/^\/sites\/([^/]+)$/, siteView);
