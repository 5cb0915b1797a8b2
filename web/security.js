// A charger's security on its page (operators; issue 17, docs/certificates.md): the security profile it
// is held to, how its latest connection was admitted (TLS version and cipher), its client certificate,
// revoked certificates and its latest SecurityEventNotifications; revoke the certificate, hold it to
// profile 3. Reads GET /v1/chargers/{id}/security; a driver (403) sees no section.
"use strict";

const EXPIRY_WARNING_DAYS = 30;  // the platform asks for a new CSR this close to NotAfter (certificates.py)

function securityCertificate(cert, revoked) {
  if (!cert) return '<p>No client certificate yet (it connects with Basic auth, profile 2).</p>';
  const days = Math.floor((Date.parse(cert.not_after) - Date.now()) / 86400e3);
  const isRevoked = revoked.includes("serial:" + cert.serial.toLowerCase()) || revoked.includes("sha256:" + cert.sha256.toLowerCase());
  const expiry = days < 0 ? '<span class="sec-bad">expired</span>'
    : days <= EXPIRY_WARNING_DAYS ? `<span class="sec-warn">${days} days left: renewal is asked for at its next connection</span>`
    : `${days} days left`;
  return `<table id="certificate" class="kv"><tbody>
    <tr><th>Subject</th><td>${esc(cert.subject)}</td></tr>
    <tr><th>Issuer</th><td>${esc(cert.issuer)}</td></tr>
    <tr><th>Serial</th><td><code>${esc(cert.serial)}</code>${isRevoked ? ' <span class="sec-bad">revoked</span>' : ""}</td></tr>
    <tr><th>SHA-256</th><td><code>${esc(cert.sha256)}</code></td></tr>
    <tr><th>Valid</th><td>${when(cert.not_before)} – ${when(cert.not_after)} (${expiry})</td></tr></tbody></table>`;
}

function securityEvents(events) {
  const rows = [...events].reverse().map((e) => `<tr><td>${when(e.at)}</td><td>${esc(e.type)}</td><td>${esc(e.tech_info || "")}</td></tr>`).join("");
  return `<table id="security-events"><thead><tr><th>When</th><th>Security event</th><th>Detail</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="3">No security events.</td></tr>'}</tbody></table>`;
}

function securitySection(s) {
  const conn = s.connection;
  const tls = conn && conn.tls_version ? `${esc(conn.tls_version)} <small>${esc(conn.tls_cipher || "")}</small>` : "–";
  const revokeButton = s.certificate ? '<button id="revoke" data-step="1">Revoke this certificate</button>' : "";
  const profileButton = s.security_profile < 3 ? '<button id="profile3" data-step="1">Hold to profile 3 (certificates only)</button>' : "";
  return `<h2>Security</h2>
    <div class="cards"><div class="card">security profile<b id="security-profile">${s.security_profile}</b></div>
    <div class="card">latest connection<b>${conn ? esc(conn.method) : "–"}</b></div>
    <div class="card">TLS<b id="tls">${tls}</b></div><div class="card">connected<b>${when(conn && conn.at)}</b></div></div>
    <p class="actions">${revokeButton} ${profileButton}</p><p id="security-message" class="message" hidden></p>
    <h3>Client certificate</h3>${securityCertificate(s.certificate, s.revoked)}
    ${s.revoked.length ? `<h3>Revoked</h3><ul id="revoked">${s.revoked.map((r) => `<li><code>${esc(r)}</code></li>`).join("")}</ul>` : ""}
    <h3>Security events</h3>${securityEvents(s.security_events)}`;
}

// A destructive action takes two clicks (the first one asks), so no browser dialog is needed.
function twoStep(button, ask, act) {
  if (!button) return;
  const label = button.textContent;
  button.addEventListener("click", async () => {
    if (button.dataset.step === "1") { button.dataset.step = "2"; button.textContent = ask; return; }
    button.disabled = true;
    try { await act(); } catch (err) {
      button.disabled = false; button.dataset.step = "1"; button.textContent = label;
      const el = document.getElementById("security-message");
      el.textContent = err.message; el.className = "message error"; el.hidden = false;
    }
  });
}

registerChargerSection(async (c, el) => {
  const enc = encodeURIComponent(c.id);
  let s;
  try { s = await api("GET", `/v1/chargers/${enc}/security`); } catch (err) { return; }  // not an operator
  const box = el;  // the section app.js made for us, in the charger page's sections
  box.id = "security";
  const show = (data, note) => {
    box.innerHTML = securitySection(data);
    if (note) { const el = document.getElementById("security-message"); el.textContent = note; el.hidden = false; }
    twoStep(document.getElementById("revoke"), "Refuse it from the next handshake? Click again", async () => {
      show(await api("POST", `/v1/chargers/${enc}/security/revocations`, {}), "Revoked: refused from its next handshake.");
    });
    twoStep(document.getElementById("profile3"), "Refuse Basic auth from now on? Click again", async () => {
      show(await api("PUT", `/v1/chargers/${enc}/security/profile`, { profile: 3 }), "Held to profile 3: Basic auth is refused.");
    });
  };
  show(s);
});
