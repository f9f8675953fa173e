"""Server-rendered pages: the console shell, the login form, the sign-in confirmation and the refusal pages.

The console itself is static HTML + JS that reads the JSON API, so the page shows exactly the API's figures.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

from starlette.responses import HTMLResponse

from console.hardening import PAGE_CSP

# Also added to every answer by console.hardening.SecurityHeaders; set here too so a page is never served
# without them, whatever serves it.
SECURITY_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,  # no inline script anywhere: scripts only from this origin
    "Referrer-Policy": "no-referrer",  # the login URL carries a token: never send it on
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def static_dir() -> Path:
    return Path(str(resources.files("console").joinpath("static")))


def plotly_js() -> Path:
    """Plotly.js as shipped inside the `plotly` Python package: served locally, no CDN."""
    return Path(str(resources.files("plotly").joinpath("package_data", "plotly.min.js")))


def console_page() -> HTMLResponse:
    return HTMLResponse((static_dir() / "index.html").read_text(), headers=SECURITY_HEADERS)


def _shell(title: str, body: str, status: int, script: str = "") -> HTMLResponse:
    script_tag = f'<script src="/static/{script}" defer></script>' if script else ""
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)} · Claude Code analytics</title>"
        f'<link rel=icon href="data:,"><link rel=stylesheet href="/static/console.css">{script_tag}</head>'
        f'<body class="narrow"><main><h1>{html.escape(title)}</h1>{body}</main></body></html>'
    )
    return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)


def _nonce_field(nonce: str) -> str:
    return f'<input type=hidden name=nonce value="{html.escape(nonce)}">'


def login_page(nonce: str, message: str = "", status: int = 401) -> HTMLResponse:
    note = f'<p class="error" id="login-error">{html.escape(message)}</p>' if message else ""
    body = (
        f"{note}<p>Sign in with your console token (<code>cc-analytics access add</code> creates one).</p>"
        f'<form method=post action="/login">{_nonce_field(nonce)}<label>Token <input type=password name=token '
        "autocomplete=current-password required></label> <button type=submit>Sign in</button></form>"
    )
    return _shell("Sign in", body, status)


def confirm_login_page(nonce: str, token: str, principal_name: str, role_name: str) -> HTMLResponse:
    """What a sign-in link opens: it signs in only when the person presses the button, so a link another
    site sends the browser to cannot sign it in as someone else unnoticed. login.js takes the token out of
    the address bar and the history entry."""
    name = html.escape(principal_name)
    body = (
        f"<p id=confirm>Sign in to this console as <strong id=confirm-principal>{name}</strong> "
        f"({html.escape(role_name)})?</p>"
        "<p>Continue only if you opened this sign-in link yourself.</p>"
        f'<form method=post action="/login">{_nonce_field(nonce)}'
        f'<input type=hidden name=token value="{html.escape(token)}">'
        f"<button type=submit id=confirm-login>Sign in as {name}</button></form>"
        '<p><a href="/login">Sign in with another token</a></p>'
    )
    return _shell("Sign in", body, 200, script="login.js")


def sign_in_refused_page(reason: str) -> HTMLResponse:
    body = f'<p class="error" id="login-error">{html.escape(reason)}</p><p><a href="/login">Sign in here</a></p>'
    return _shell("Sign-in refused", body, 403)


def forbidden_page(role_name: str) -> HTMLResponse:
    body = (
        f"<p id=forbidden>Your role, {html.escape(role_name)}, may not view analytics. The roles that may are "
        "Primary Owner, Owner, Billing, Admin and Developer.</p>"
        '<form method=post action="/logout"><button type=submit>Sign out</button></form>'
    )
    return _shell("Not allowed", body, 403)
