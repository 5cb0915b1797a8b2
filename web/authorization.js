// Authorization (issue 22, operators): the idTags the platform knows (#/authorization), and on the
// charger page its policy (accept_all / id_tags / local_list), its local list (SendLocalList,
// GetLocalListVersion) and its reservations (ReserveNow, CancelReservation). docs/api.md.
"use strict";

const tagState = (s) => `<span class="state tag-${esc(s.toLowerCase())}">${esc(s)}</span>`;

async function idTags() {
  const tags = await api("GET", "/v1/id-tags");
  const rows = tags.map((t) => `<tr data-tag="${esc(t.id_tag)}"><td>${esc(t.id_tag)}</td><td>${tagState(t.status)}</td>
    <td>${when(t.expiry)}</td><td>${esc(t.parent || "–")}</td><td>${esc(t.note || "")}</td>
    <td><button type="button" class="block" ${t.blocked ? "disabled" : ""}>Block</button> <button type="button" class="remove">Remove</button></td></tr>`).join("");
  view.innerHTML = `<h1>idTags</h1>
    <p>A charger with no policy accepts every idTag (accept-all) except those below that are blocked or expired;
    set a charger's policy on its page.</p>
    <form id="tag-form" class="pref"><label>idTag <input name="id_tag" required maxlength="20"></label>
    <label>Expires <input name="expiry" type="datetime-local"></label><label>Parent <input name="parent" maxlength="20"></label>
    <label>Note <input name="note" maxlength="200"></label><label><span><input type="checkbox" name="blocked"> blocked</span></label>
    <button>Save idTag</button></form><p id="message" class="message" hidden></p>
    <table id="id-tags"><thead><tr><th>idTag</th><th>Status</th><th>Expires</th><th>Parent</th><th>Note</th><th></th></tr></thead>
    <tbody>${rows || '<tr><td colspan="6">No idTags yet.</td></tr>'}</tbody></table>`;
  const form = document.getElementById("tag-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { blocked: form.blocked.checked, parent: form.parent.value || null, note: form.note.value || null,
      expiry: form.expiry.value ? new Date(form.expiry.value).toISOString() : null };
    try { await api("PUT", `/v1/id-tags/${encodeURIComponent(form.id_tag.value.trim())}`, body); await idTags(); message("Saved."); }
    catch (err) { message(err.message, true); }
  });
  const byTag = Object.fromEntries(tags.map((t) => [t.id_tag, t]));
  view.querySelectorAll("tr[data-tag]").forEach((tr) => {
    const t = byTag[tr.dataset.tag], path = `/v1/id-tags/${encodeURIComponent(t.id_tag)}`;
    tr.querySelector(".block").addEventListener("click", async () => {
      try { await api("PUT", path, { blocked: true, expiry: t.expiry, parent: t.parent, note: t.note }); await idTags(); }
      catch (err) { message(err.message, true); }
    });
    tr.querySelector(".remove").addEventListener("click", async () => {
      try { await api("DELETE", path); await idTags(); } catch (err) { message(err.message, true); }
    });
  });
}
registerView(/^\/authorization$/, idTags, "idTags", "#/authorization");

const answerText = (a, none) => (a ? `${esc(a.status)} (${when(a.at)})` : none);

async function authorizationSection(c, el) {
  if (!ME.operator) return;
  const enc = encodeURIComponent(c.id);
  const a = await api("GET", `/v1/chargers/${enc}/authorization`);
  const ll = a.local_list, check = a.local_list_version_check;
  const reservations = a.reservations.map((r) => `<tr data-reservation="${r.reservation_id}"><td>${r.reservation_id}</td><td>${r.connector_id}</td>
    <td>${esc(r.id_tag)}</td><td>${when(r.expires_at)}</td><td><span class="state res-${esc(r.state)}">${esc(r.state)}</span>${r.transaction_id ? " by " + r.transaction_id : ""}</td>
    <td>${["requested", "reserved"].includes(r.state) ? '<button type="button" class="cancel">Cancel</button>' : ""}</td></tr>`).join("");
  el.innerHTML = `<h2>Authorization</h2>
    <form id="policy" class="pref"><label>Policy <select name="mode">
      ${[["accept_all", "accept every idTag (default)"], ["id_tags", "only known idTags"], ["local_list", "only known idTags, list pushed to the charger"]]
        .map(([v, t]) => `<option value="${v}" ${a.mode === v ? "selected" : ""}>${t}</option>`).join("")}</select></label>
      <button>Save policy</button>
      <button type="button" id="push-list">Send local list</button> <button type="button" id="check-version">Ask list version</button></form>
    <p id="local-list">Local list: version ${ll.version} (${ll.size} idTags) — ${answerText(ll.answer, ll.command_id ? "awaiting answer" : "never sent")}${
      check ? `; the charger reports version ${check.result ? esc(check.result.listVersion) : esc(check.status || "…")}` : ""}</p>
    <h3>Reservations</h3>
    <form id="reserve" class="pref"><label>Connector <input name="connector" type="number" min="0" value="1"></label>
      <label>idTag <input name="id_tag" required maxlength="20"></label><label>Minutes <input name="minutes" type="number" min="1" max="10080" value="30"></label>
      <button>Reserve</button></form><p id="auth-message" class="message" hidden></p>
    <table id="reservations"><thead><tr><th>Id</th><th>Connector</th><th>idTag</th><th>Until</th><th>State</th><th></th></tr></thead>
    <tbody>${reservations || '<tr><td colspan="6">No reservations.</td></tr>'}</tbody></table>`;
  const say = (text, error) => { const m = el.querySelector("#auth-message"); m.textContent = text; m.className = "message" + (error ? " error" : ""); m.hidden = false; };
  const redraw = async (text) => { await authorizationSection(c, el); if (text) say(text); };
  const act = (fn) => async (e) => { if (e) e.preventDefault(); try { await redraw(await fn()); } catch (err) { say(err.message, true); } };
  const form = el.querySelector("#policy");
  form.addEventListener("submit", act(async () => {
    const r = await api("PUT", `/v1/chargers/${enc}/authorization`, { mode: form.mode.value });
    return `Policy: ${r.mode}.`;
  }));
  el.querySelector("#push-list").addEventListener("click", act(async () => {
    const r = await api("POST", `/v1/chargers/${enc}/authorization/local-list`);
    return `Local list version ${r.version} ${r.status}.`;
  }));
  el.querySelector("#check-version").addEventListener("click", act(async () => {
    const r = await api("POST", `/v1/chargers/${enc}/authorization/local-list/version`);
    return `GetLocalListVersion ${r.status}.`;
  }));
  const reserve = el.querySelector("#reserve");
  reserve.addEventListener("submit", act(async () => {
    const expires = new Date(Date.now() + Number(reserve.minutes.value) * 60000).toISOString();
    const r = await api("POST", `/v1/chargers/${enc}/reservations`,
      { connector_id: Number(reserve.connector.value), id_tag: reserve.id_tag.value.trim(), expires_at: expires });
    return `Reservation ${r.reservation_id} ${r.status}.`;
  }));
  el.querySelectorAll("tr[data-reservation] .cancel").forEach((b) => b.addEventListener("click", act(async () => {
    const id = b.closest("tr").dataset.reservation;
    const r = await api("DELETE", `/v1/chargers/${enc}/reservations/${id}`);
    return `CancelReservation ${id} ${r.status}.`;
  })));
}
registerChargerSection(authorizationSection);
