// Onboarding (issue 18, docs/onboarding.md): a charger's integration report with its evidence, the
// active check (button, live progress), the verdicts per vendor / model / firmware, and a summary
// on the charger page. Uses app.js's api, esc, view, every, message, when, registerView.
"use strict";

const OB_MARK = { pass: "PASS", fail: "FAIL", not_seen: "not yet seen" };
const obCounts = (c) => `<span class="ob pass">${c.pass} pass</span> <span class="ob fail">${c.fail} fail</span> <span class="ob not_seen">${c.not_seen} not yet seen</span>`;

function obReportTable(report) {
  const rows = report.requirements.map((r) => `<tr class="ob-${r.state}" data-requirement="${esc(r.id)}">
    <td><b>${esc(r.title)}</b><br><small>${esc(r.guide)}</small></td><td>${esc(r.level)}</td>
    <td><span class="ob ${r.state}">${OB_MARK[r.state]}</span>${r.source === "active check" ? "<br><small>active check</small>" : ""}</td>
    <td>${esc(r.detail)}<ul class="evidence">${r.evidence.slice(0, 3).map((e) => `<li>${e.at ? when(e.at) + ": " : ""}${esc(e.what)}</li>`).join("")}</ul></td></tr>`).join("");
  return `<table id="ob-report"><thead><tr><th>Requirement</th><th>Level</th><th>Verdict</th><th>Why (evidence)</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function obCheckBox(check) {
  if (!check) return "<p>No active check yet.</p>";
  const steps = Object.entries(check.steps || {}).map(([name, s]) => `<tr><td>${esc(name)}</td><td><span class="ob ${s.state}">${OB_MARK[s.state] || esc(s.state)}</span></td><td>${esc(s.detail)}</td></tr>`).join("");
  return `<p>Check ${esc(check.id)}: <b id="ob-check-state">${esc(check.state)}</b>${check.state === "running" ? " (" + esc(check.step) + ")" : ""}</p>
    <ol class="progress">${check.progress.map((l) => `<li>${esc(l)}</li>`).join("")}</ol>
    ${steps ? `<table id="ob-steps"><tbody>${steps}</tbody></table>` : ""}`;
}

async function obOpenHtml(id) {
  const enc = encodeURIComponent(id);
  const response = await fetch(API + `/v1/chargers/${enc}/report?format=html`, { headers: { "Authorization": "Bearer " + token() } });
  const url = URL.createObjectURL(new Blob([await response.text()], { type: "text/html" }));
  window.open(url, "_blank");
}

async function obCharger(id) {
  const enc = encodeURIComponent(id);
  const render = async () => {
    const report = await api("GET", `/v1/chargers/${enc}/report`);
    let check = null;
    try { check = await api("GET", `/v1/chargers/${enc}/check`); } catch (err) { check = null; }
    const model = report.vendor ? `${esc(report.vendor)} ${esc(report.model)}, firmware ${esc(report.firmware_version || "?")}` : "model not yet known";
    view.innerHTML = `<h1>Integration report: <a href="#/chargers/${enc}">${esc(id)}</a></h1>
      <p>${model} · generated ${when(report.generated_at)} · ${obCounts(report.counts)}</p>
      <p><button id="ob-run">Run active check</button> <button id="ob-html">One-pager (HTML)</button>
      <span class="counts">The check needs a live session: it triggers Boot and Status, reads the configuration,
      pauses for at most 2 minutes, resumes and restores the driver's plan.</span></p>
      <p id="message" class="message" hidden></p>
      <h2>Active check</h2><div id="ob-check">${obCheckBox(check)}</div>
      <h2>Requirements</h2>${obReportTable(report)}`;
    document.getElementById("ob-html").addEventListener("click", () => obOpenHtml(id));
    document.getElementById("ob-run").addEventListener("click", async () => {
      try {
        const started = await api("POST", `/v1/chargers/${enc}/check`);
        message("Check started: the platform will pause charging briefly and restore the plan.");
        document.getElementById("ob-check").innerHTML = obCheckBox(started);
        every(1500, async () => {
          const c = await api("GET", `/v1/chargers/${enc}/check`);
          document.getElementById("ob-check").innerHTML = obCheckBox(c);
          if (c.state !== "running") { clearInterval(timer); await render(); message("Check finished."); }
        });
      } catch (err) { message(err.message, true); }
    });
    return check;
  };
  const check = await render();
  if (check && check.state === "running") every(1500, () => render().catch(() => {}));
}

async function obModels() {
  const rows = await api("GET", "/v1/models/report");
  const body = rows.map((m) => `<tr data-model="${esc(m.vendor)} ${esc(m.model)} ${esc(m.firmware)}"><td>${esc(m.vendor)} ${esc(m.model)}</td>
    <td>${esc(m.firmware || "?")}</td><td class="num">${m.chargers}</td><td class="num">${m.reported}</td>
    <td>${m.failing.map((f) => `<div class="ob-failing">${esc(f)}</div>`).join("") || '<span class="ob pass">nothing fails</span>'}</td>
    <td>${m.chargers_failing.map((c) => `<a href="#/onboarding/${encodeURIComponent(c)}">${esc(c)}</a>`).join(" ")}</td></tr>`).join("");
  view.innerHTML = `<h1>Onboarding: verdicts per model</h1>
    <p>As of each charger's latest report (open a charger's report to refresh it).</p>
    <table id="ob-models"><thead><tr><th>Model</th><th>Firmware</th><th class="num">Chargers</th><th class="num">Reported</th><th>Failing requirements</th><th>Failing chargers</th></tr></thead>
    <tbody>${body || '<tr><td colspan="6">No charger reported yet.</td></tr>'}</tbody></table>`;
}

registerView(/^\/onboarding\/([^/]+)$/, obCharger);
registerView(/^\/onboarding$/, obModels, "Onboarding", "#/onboarding");

// The charger page's section: a summary and a link to the full report (added when that page is shown).
new MutationObserver(async () => {
  const m = (location.hash.replace(/^#/, "") || "/").match(/^\/chargers\/([^/]+)$/);
  if (!m || document.getElementById("ob-summary") || !view.querySelector("h1")) return;
  const section = document.createElement("section");
  section.id = "ob-summary";
  view.append(section);
  try {
    const report = await api("GET", `/v1/chargers/${m[1]}/report`);
    section.innerHTML = `<h2>Integration report</h2><p>${obCounts(report.counts)} · <a href="#/onboarding/${m[1]}">full report and active check</a></p>`;
  } catch (err) { section.remove(); }
}).observe(view, { childList: true });
