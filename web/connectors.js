// The charger page's Connectors section (issue 22): per connector its state, power, transaction,
// plan and reservation; the composite schedule the charger runs beside the profile the platform sent
// (GetCompositeSchedule); and, for operators, forms for Reset, UnlockConnector, TriggerMessage and
// ChangeAvailability through POST /v1/chargers/{id}/commands, showing the charger's answer.
"use strict";

const periodsText = (schedule) => !schedule ? "–" : (schedule.chargingSchedulePeriod || [])
  .map((p) => `+${Math.round(p.startPeriod / 60)} min: ${p.limit} ${esc(schedule.chargingRateUnit || "")}`).join("; ");
const planNow = (plan) => {
  if (!plan || !plan.length) return "–";
  const now = Date.now(), p = plan.find((q) => Date.parse(q[1]) > now) || plan[plan.length - 1];
  return `${kw(p[2])} kW until ${when(p[1])} (${plan.length} periods)`;
};

function connectorRows(id, rows) {
  return rows.map((k) => `<tr data-connector="${k.id}"><td>${k.id}</td>
    <td><span class="state ${esc(k.state)}" title="${esc(k.status || "")}">${esc(k.state.replace("_", " "))}</span>${k.error_code && k.error_code !== "NoError" ? " " + esc(k.error_code) : ""}</td>
    <td class="num">${kw(k.power_w)}</td>
    <td>${k.session ? `<a href="#/chargers/${encodeURIComponent(id)}/sessions/${k.session.transaction_id}">${k.session.transaction_id}</a> ${esc(k.session.id_tag)} since ${when(k.session.started_at)}, ${((k.session.energy_wh || 0) / 1000).toFixed(2)} kWh` : "–"}</td>
    <td>${planNow(k.plan)}</td>
    <td>${k.reservation ? `${esc(k.reservation.id_tag)} until ${when(k.reservation.expires_at)}` : "–"}</td>
    ${ME.operator ? `<td><button type="button" class="composite" data-connector="${k.id}">Composite schedule</button></td>` : ""}</tr>`).join("");
}

async function showComposite(id, connector, box) {
  const path = `/v1/chargers/${encodeURIComponent(id)}/connectors/${connector}/composite-schedule`;
  const draw = (s) => {
    const c = s.composite, p = s.sent_profile;
    box.innerHTML = `<h3>Connector ${connector}: what runs beside what we sent</h3><table id="composite"><thead><tr><th></th><th>When</th><th>Status</th><th>Schedule</th></tr></thead><tbody>
      <tr><td>charger's composite schedule</td><td>${c ? when(c.at) : "–"}</td><td>${c ? esc(c.status) : (s.pending ? "asked…" : "never asked")}</td><td>${c ? (c.schedule_start ? "from " + when(c.schedule_start) + ": " : "") + periodsText(c.charging_schedule) : "–"}</td></tr>
      <tr><td>profile sent${p ? ` (${esc(p.purpose)}, level ${p.stack_level})` : ""}</td><td>${p ? when(p.at) : "–"}</td><td>${p ? esc(p.status) : "none sent"}</td><td>${p ? periodsText(p.charging_schedule) : "–"}</td></tr>
      <tr><td>plan</td><td></td><td></td><td>${(s.plan || []).map((q) => `${hm(q[0])}–${hm(q[1])} ${kw(q[2])} kW`).join("; ") || "–"}</td></tr></tbody></table>`;
  };
  await api("POST", path, { duration_s: 86400 });
  for (let i = 0; i < 30; i++) {
    const s = await api("GET", path);
    draw(s);
    if (s.composite && !s.pending) return;  // answered (before the answer: pending, or not yet seen)
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ---------------------------------------------------------------- command forms (operators)
const COMMAND_FORMS = [
  ["Reset", `<select name="type"><option>Soft</option><option>Hard</option></select>`, (f) => ({ type: f.type.value })],
  ["UnlockConnector", `<input name="connectorId" type="number" min="1" value="1" aria-label="connector">`,
    (f) => ({ connectorId: Number(f.connectorId.value) })],
  ["TriggerMessage", `<select name="requestedMessage">${["StatusNotification", "BootNotification", "Heartbeat", "MeterValues", "FirmwareStatusNotification", "DiagnosticsStatusNotification"].map((m) => `<option>${m}</option>`).join("")}</select>
    <input name="connectorId" type="number" min="0" placeholder="connector" aria-label="connector">`,
    (f) => ({ requestedMessage: f.requestedMessage.value, ...(f.connectorId.value ? { connectorId: Number(f.connectorId.value) } : {}) })],
  ["ChangeAvailability", `<input name="connectorId" type="number" min="0" value="0" aria-label="connector">
    <select name="type"><option>Operative</option><option>Inoperative</option></select>`,
    (f) => ({ connectorId: Number(f.connectorId.value), type: f.type.value })],
];

async function runCommand(id, action, payload, out) {
  const enc = encodeURIComponent(id);
  out.className = "message"; out.hidden = false;
  try {
    const sent = await api("POST", `/v1/chargers/${enc}/commands`, { action, payload });
    out.textContent = `${action}: ${sent.status}…`;
    for (let i = 0; i < 60; i++) {
      const r = await api("GET", `/v1/chargers/${enc}/commands/${encodeURIComponent(sent.command_id)}`);
      if (!["queued", "awaiting answer"].includes(r.status)) {
        const answer = r.result && r.result.status ? r.result.status : (r.error_code || JSON.stringify(r.result));
        out.textContent = `${action}: ${r.status} — ${answer}`;
        out.className = "message" + (r.status === "answered" && answer !== "Rejected" ? "" : " error");
        return;
      }
      out.textContent = `${action}: ${r.status}…`;
      await new Promise((res) => setTimeout(res, 1000));
    }
  } catch (err) { out.textContent = `${action}: ${err.message}`; out.className = "message error"; }
}

registerChargerSection(async (c, el) => {
  const id = c.id, enc = encodeURIComponent(id);
  const rows = await api("GET", `/v1/chargers/${enc}/connectors`);
  el.innerHTML = `<h2>Connectors</h2><table id="connectors"><thead><tr><th>Connector</th><th>State</th><th class="num">kW</th><th>Transaction</th><th>Plan now</th><th>Reserved</th>${ME.operator ? "<th></th>" : ""}</tr></thead>
    <tbody>${connectorRows(id, rows) || `<tr><td colspan="7">No connector has reported yet.</td></tr>`}</tbody></table>
    <div id="composite-box"></div>
    ${ME.operator ? `<h2>Commands</h2><div class="commands">${COMMAND_FORMS.map(([action, fields]) =>
      `<form class="command" data-action="${action}"><b>${action}</b> ${fields} <button>Send</button></form>`).join("")}</div>
      <p id="command-result" class="message" hidden></p>` : ""}`;
  el.querySelectorAll("button.composite").forEach((b) => b.addEventListener("click", () =>
    showComposite(id, b.dataset.connector, document.getElementById("composite-box")).catch((err) => message(err.message, true))));
  el.querySelectorAll("form.command").forEach((form) => form.addEventListener("submit", (e) => {
    e.preventDefault();
    const [action, , payload] = COMMAND_FORMS.find(([a]) => a === form.dataset.action);
    if (action === "Reset" && !confirm(`Reset ${id} (${form.type.value})?`)) return;
    runCommand(id, action, payload(form), document.getElementById("command-result"));
  }));
});
