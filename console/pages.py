"""Server-rendered pages: the console shell, the login form and the refusal page.

The console itself is static HTML + JS that reads the JSON API, so the page shows exactly the API's figures.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

from starlette.responses import HTMLResponse

# No inline script anywhere: scripts only from this origin. Plotly injects <style> elements at run time.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",  # the login URL carries a token: never send it on
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def static_dir() -> Path:
    return Path(str(resources.files("console").joinpath("static")))


def plotly_js() -> Path:
    """Plotly.js as shipped inside the `plotly` Python package: served locally, no CDN."""
    return Path(str(resources.files("plotly").joinpath("package_data", "plotly.min.js")))


def console_page() -> HTMLResponse:
    return HTMLResponse((static_dir() / "index.html").read_text(), headers=SECURITY_HEADERS)


def _shell(title: str, body: str, status: int) -> HTMLResponse:
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)} · Claude Code analytics</title>"
        '<link rel=icon href="data:,"><link rel=stylesheet href="/static/console.css"></head>'
        f'<body class="narrow"><main><h1>{html.escape(title)}</h1>{body}</main></body></html>'
    )
    return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)


def login_page(message: str = "", status: int = 401) -> HTMLResponse:
    note = f'<p class="error" id="login-error">{html.escape(message)}</p>' if message else ""
    body = (
        f"{note}<p>Sign in with your console token (<code>cc-analytics access add</code> creates one).</p>"
        '<form method=post action="/login"><label>Token <input type=password name=token '
        'autocomplete=current-password required></label> <button type=submit>Sign in</button></form>'
    )
    return _shell("Sign in", body, status)


def forbidden_page(role_name: str) -> HTMLResponse:
    body = (
        f"<p id=forbidden>Your role, {html.escape(role_name)}, may not view analytics. The roles that may are "
        "Primary Owner, Owner, Billing, Admin and Developer.</p>"
        '<form method=post action="/logout"><button type=submit>Sign out</button></form>'
    )
    return _shell("Not allowed", body, 403)
