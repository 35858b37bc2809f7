"""The reviewers' page: plain server-rendered HTML, one stylesheet, a little JavaScript.

Everything shown is escaped here; the script only swaps in fragments this module rendered, keeps
what the reviewer typed, and posts approve / deny with the CSRF token.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from html import escape
from typing import Any

from kitelogik.anchor.hitl.auth import APPROVER, ApproverIdentity
from kitelogik.anchor.hitl.models import ApprovalRequest

__all__ = ["APP_CSS", "APP_JS", "render_index", "render_lists", "render_login"]


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def _stamp(ts: float | None) -> str:
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _card(req: ApprovalRequest, now: float) -> str:
    args = json.dumps(dict(req.args), indent=2, sort_keys=True, ensure_ascii=False)
    reasons = "".join(f"<li>{_e(r)}</li>" for r in req.reasons) or "<li>(none given)</li>"
    votes = "".join(
        f"<li>{_e(v.approver)} {_e(v.vote)}d{': ' + _e(v.reason) if v.reason else ''}</li>"
        for v in req.votes
    )
    tier = _e(req.risk_tier or "unknown")
    return f"""
<article class="request" id="{_e(req.id)}" data-id="{_e(req.id)}" data-digest="{_e(req.digest)}"
  data-expires="{req.expires_at:.3f}">
  <header>
    <h2><code class="action">{_e(req.action)}</code></h2>
    <span class="tier tier-{tier}">{tier}</span>
    <span class="expires">expires in {_ago(req.expires_at - now)}</span>
  </header>
  <dl class="facts">
    <dt>Session</dt><dd><code>{_e(req.session_id)}</code></dd>
    <dt>Agent</dt><dd><code>{_e(req.agent_id or "-")}</code></dd>
    <dt>Role</dt><dd>{_e(req.user_role or "-")}</dd>
    <dt>Event</dt><dd>{_e(req.event_type)}</dd>
    <dt>Approvals</dt><dd>{len(req.approvers)} of {req.quorum}</dd>
    <dt>Requested</dt><dd>{_e(_stamp(req.created_at))}</dd>
  </dl>
  <h3>Arguments (exactly what will run)</h3>
  <pre class="args">{_e(args)}</pre>
  <h3>Why a human must decide</h3>
  <ul class="reasons">{reasons}</ul>
  {f'<ul class="votes">{votes}</ul>' if votes else ""}
  <p class="digest">bound to <code title="{_e(req.digest)}">sha256:{_e(req.digest[:16])}…</code>
     &middot; request <code>{_e(req.id)}</code></p>
  <form class="decide" data-id="{_e(req.id)}">
    <label>Reason <input name="reason" maxlength="2000" autocomplete="off"
      placeholder="why (recorded in the audit log)"></label>
    <button type="button" class="approve" data-decision="approve">Approve</button>
    <button type="button" class="deny" data-decision="deny">Deny</button>
  </form>
</article>"""


def _recent_row(req: ApprovalRequest, now: float) -> str:
    status = req.effective_status(now)
    who = "; ".join(
        f"{v.approver} ({v.vote}{': ' + v.reason if v.reason else ''})" for v in req.votes
    ) or ("no decision in time" if status == "expired" else "-")
    used = "used" if req.consumed_at else ""
    return (
        f'<tr data-id="{_e(req.id)}"><td><code>{_e(req.action)}</code></td>'
        f'<td><span class="status status-{_e(status)}">{_e(status)}</span> {used}</td>'
        f"<td>{_e(who)}</td><td><code>{_e(req.session_id)}</code></td>"
        f"<td>{_e(_stamp(req.decided_at))}</td></tr>"
    )


def render_lists(
    pending: Sequence[ApprovalRequest], recent: Sequence[ApprovalRequest], now: float
) -> str:
    """The live part of the page. ``data-version`` changes only when the lists change, so the
    script leaves the DOM (and what the reviewer is typing) alone otherwise."""
    key = "|".join(
        f"{r.id}:{r.effective_status(now)}:{len(r.votes)}:{r.consumed_at}"
        for r in (*pending, *recent)
    )
    version = hashlib.sha256(key.encode()).hexdigest()[:16]
    cards = "".join(_card(r, now) for r in pending) or (
        '<p class="empty">No pending approvals. New requests appear here by themselves.</p>'
    )
    rows = "".join(_recent_row(r, now) for r in recent)
    recent_html = (
        "<table class=recent><thead><tr><th>Action</th><th>Outcome</th><th>Reviewers</th>"
        f"<th>Session</th><th>Decided</th></tr></thead><tbody>{rows}</tbody></table>"
        if rows
        else '<p class="empty">Nothing decided yet.</p>'
    )
    return (
        f'<div id="lists" data-version="{version}" data-now="{now:.3f}">'
        f'<section id="pending"><h1>Pending approvals <span class="count">{len(pending)}</span>'
        f"</h1>{cards}</section>"
        f'<section id="recent"><h1>Recently decided</h1>{recent_html}</section></div>'
    )


def _layout(body: str, *, csrf: str = "", poll_ms: int = 1000) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{_e(csrf)}">
<meta name="poll-ms" content="{int(poll_ms)}">
<title>Kite Logik approvals</title>
<link rel="stylesheet" href="/static/app.css">
</head><body>
<nav><span class="brand">Kite Logik</span> <span class="sub">human approvals</span>
<span id="whoami"></span></nav>
<main>{body}</main>
<script src="/static/app.js"></script>
</body></html>"""


def render_login(error: str | None) -> str:
    err = f'<p class="error" role="alert">{_e(error)}</p>' if error else ""
    return _layout(f"""
<section class="login"><h1>Sign in to review approvals</h1>{err}
<p>Paste your approver token (<code>kitelogik hitl token create NAME</code>).</p>
<form method="post" action="/login">
<label>Approver token <input type="password" name="token" autocomplete="off" required></label>
<button type="submit">Sign in</button></form></section>""")


def render_index(who: ApproverIdentity, csrf: str, lists: str, poll_ms: int) -> str:
    can = APPROVER in who.roles
    role = "approver" if can else "viewer (read only)"
    body = (
        f'<p class="me">Signed in as <strong id="reviewer">{_e(who.name)}</strong>'
        f' &middot; {_e(role)} &middot; <button type="button" id="logout">Sign out</button></p>'
        '<div id="flash" role="status" aria-live="polite"></div>'
        f"{lists}"
    )
    return _layout(body, csrf=csrf, poll_ms=poll_ms)


APP_JS = r"""
(function () {
  "use strict";
  var meta = function (n) { var m = document.querySelector('meta[name="' + n + '"]');
                            return m ? m.getAttribute("content") : ""; };
  var csrf = meta("csrf-token");
  var pollMs = parseInt(meta("poll-ms"), 10) || 1000;
  if (!document.getElementById("lists")) { return; }  // the sign-in page

  function flash(text, kind) {
    var f = document.getElementById("flash");
    f.textContent = text;
    f.className = kind || "";
  }

  function refresh() {
    fetch("/fragments/approvals", {credentials: "same-origin", cache: "no-store"})
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); throw new Error("signed out"); }
        return r.text();
      })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;   // rendered and escaped by the server
        var fresh = holder.firstElementChild;
        var current = document.getElementById("lists");
        if (!fresh || fresh.getAttribute("data-version") === current.getAttribute("data-version")) {
          return;
        }
        current.querySelectorAll("form.decide").forEach(function (form) {
          var again = fresh.querySelector('form.decide[data-id="' + form.dataset.id + '"]');
          if (again) { again.reason.value = form.reason.value; }
        });
        current.replaceWith(fresh);
      })
      .catch(function () {});
  }

  function decide(button) {
    var form = button.closest("form.decide");
    var card = button.closest("article.request");
    var kind = button.dataset.decision;
    var body = {reason: form.reason.value};
    if (kind === "approve") { body.digest = card.dataset.digest; }
    card.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    fetch("/api/v1/approvals/" + encodeURIComponent(card.dataset.id) + "/" + kind, {
      method: "POST", credentials: "same-origin",
      headers: {"content-type": "application/json", "x-csrf-token": csrf},
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) { return {ok: r.ok, data: data}; });
    }).then(function (res) {
      if (res.ok) {
        var action = card.querySelector(".action").textContent;
        var verb = kind === "approve" ? "Approved " : "Denied ";
        flash(verb + action + " (" + res.data.status + ")", "ok");
      } else {
        flash("Refused: " + (res.data.detail || "error"), "error");
        card.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      }
      refresh();
    }).catch(function () { flash("The approvals service did not answer", "error"); });
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (t.matches && t.matches("form.decide button")) { decide(t); }
    if (t.id === "logout") {
      fetch("/logout", {method: "POST", credentials: "same-origin",
                        headers: {"x-csrf-token": csrf}})
        .then(function () { window.location.href = "/"; });
    }
  });
  // Count down to each request's expiry, on the server's clock.
  var skew = parseFloat(document.getElementById("lists").dataset.now) - Date.now() / 1000;
  function fmt(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) { return s + "s"; }
    if (s < 3600) { return Math.floor(s / 60) + "m " + ("0" + s % 60).slice(-2) + "s"; }
    return Math.floor(s / 3600) + "h " + ("0" + Math.floor(s % 3600 / 60)).slice(-2) + "m";
  }
  function tick() {
    var now = Date.now() / 1000 + skew;
    document.querySelectorAll("article.request").forEach(function (card) {
      var left = parseFloat(card.dataset.expires) - now;
      card.querySelector(".expires").textContent = left > 0 ? "expires in " + fmt(left)
                                                              : "expired";
    });
  }
  setInterval(refresh, pollMs);
  setInterval(tick, 1000);
})();
"""

APP_CSS = """
:root { --fg:#1d2433; --muted:#5b6577; --line:#dde2ea; --bg:#f6f7fa; --card:#fff;
        --ok:#1f7a4d; --bad:#b3261e; --warn:#a15c00; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
       color:var(--fg); background:var(--bg); }
nav { background:#14213d; color:#fff; padding:10px 24px; }
nav .brand { font-weight:700; letter-spacing:.02em; }
nav .sub { color:#b8c2d9; margin-left:6px; }
main { max-width: 980px; margin: 0 auto; padding: 18px 24px 40px; }
h1 { font-size: 20px; margin: 22px 0 12px; }
h1 .count { background:#14213d; color:#fff; border-radius:10px; padding:1px 9px; font-size:14px; }
h2 { font-size: 18px; margin: 0; }
h3 { font-size: 13px; text-transform: uppercase; letter-spacing:.05em; color:var(--muted);
     margin: 14px 0 6px; }
.me { color: var(--muted); }
.request { background:var(--card); border:1px solid var(--line); border-radius:10px;
           padding:16px 18px; margin: 0 0 16px; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
.request header { display:flex; align-items:center; gap:12px; }
.request .expires { margin-left:auto; color:var(--muted); font-size:13px; }
.tier { font-size:12px; font-weight:600; padding:2px 8px; border-radius:10px;
        background:#fff3e0; color:var(--warn); border:1px solid #f3d19c; }
.tier-destructive, .tier-security_critical { background:#fdecea; color:var(--bad);
        border-color:#f2b8b5; }
.facts { display:grid; grid-template-columns: max-content 1fr max-content 1fr; gap:4px 14px;
         margin: 12px 0 0; }
.facts dt { color:var(--muted); }
.facts dd { margin:0; }
pre.args { background:#0f1729; color:#e6edf7; padding:12px; border-radius:8px; overflow:auto;
           margin:0; font-size:13px; }
.reasons, .votes { margin: 0; padding-left: 20px; }
.digest { color:var(--muted); font-size:12px; margin: 10px 0; }
form.decide { display:flex; gap:8px; align-items:center; border-top:1px solid var(--line);
              padding-top:12px; }
form.decide label { flex:1; display:flex; gap:8px; align-items:center; color:var(--muted); }
form.decide input { flex:1; padding:7px 9px; border:1px solid var(--line); border-radius:6px;
                    font: inherit; }
button { font: inherit; padding:7px 16px; border-radius:6px; border:1px solid var(--line);
         background:#fff; cursor:pointer; }
button.approve { background:var(--ok); border-color:var(--ok); color:#fff; }
button.deny { background:var(--bad); border-color:var(--bad); color:#fff; }
button:disabled { opacity:.5; cursor: default; }
#flash { min-height: 1.5em; font-weight: 600; }
#flash.ok { color: var(--ok); }
#flash.error, .error { color: var(--bad); }
.empty { color: var(--muted); background: var(--card); border:1px dashed var(--line);
         border-radius: 10px; padding: 18px; }
table.recent { width:100%; border-collapse: collapse; background:var(--card);
               border:1px solid var(--line); border-radius:10px; }
table.recent th, table.recent td { text-align:left; padding:7px 10px;
               border-bottom:1px solid var(--line); font-size:14px; }
.status { font-weight:600; }
.status-approved { color: var(--ok); } .status-denied { color: var(--bad); }
.status-expired { color: var(--muted); }
.login { max-width: 460px; background: var(--card); border:1px solid var(--line);
         border-radius: 10px; padding: 8px 22px 22px; margin-top: 30px; }
.login form { display:flex; flex-direction:column; gap:12px; }
.login input { width:100%; padding:8px; margin-top:4px; font: inherit; }
"""
