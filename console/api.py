"""The read path on :8080: JSON analytics API, CSV, the Admin-API-compatible report, the console page.

Every data endpoint is role-gated (console.auth); /healthz, /readyz, /openapi.json, /login and static
assets carry no data and stay open. Every answer carries the security headers and every request body is
capped (console.hardening); sign-in is same-origin only and signing out ends the session server-side.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from console import csv_export, openapi, pages, readmodels, report
from console.access import AccessStore
from console.answers import KeptAnswers
from console.auth import (
    LOGIN_NONCE_FIELD,
    SESSION_COOKIE,
    AuthSettings,
    Decision,
    decide,
    end_session,
    login_nonce,
    set_login_nonce,
    set_session,
    sign_in_refusal,
)
from console.hardening import BodyLimit, SecurityHeaders
from console.params import BadParameter, parse_month, parse_range
from console.roles import ROLES
from console.sessions import SignedOutSessions, signed_out_file
from pdata.store import NamedQueries, StoreUnavailable

log = logging.getLogger("cc_analytics.api")

Handler = Callable[[Request, Decision], Awaitable[Response]]
# The Admin-API-compatible routes answer errors in Anthropic's envelope.
_ANTHROPIC_ROUTES = "/v1/organizations/"
_INVALID_TOKEN = "That token is not valid (revoked, rotated or mistyped)."


@dataclass(frozen=True, slots=True)
class Console:
    """What the handlers read, kept on the app's state."""

    store: NamedQueries
    ready: Callable[[], tuple[bool, str]]
    access: AccessStore
    settings: AuthSettings
    signed_out: SignedOutSessions
    answers: KeptAnswers  # analytics answers kept until a commit changes them (none with max_answers 0)


def create_api_app(
    store: NamedQueries,
    ready: Callable[[], tuple[bool, str]],
    access: AccessStore,
    auth: AuthSettings | None = None,
    answers: KeptAnswers | None = None,
) -> Starlette:
    signed_out = SignedOutSessions(signed_out_file(access.path))
    signed_out.compact()
    app = Starlette(
        routes=[
            Route("/", guarded(page, "page")),
            Route("/login", login, methods=["GET", "POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/api/v1/analytics", guarded(analytics)),
            Route("/api/v1/analytics.csv", guarded(analytics)),
            Route("/api/v1/team", guarded(team_view)),
            Route("/api/v1/team.csv", guarded(team_view)),
            Route("/api/v1/filters", guarded(filters)),
            Route("/api/v1/me", guarded(me)),
            Route(f"{_ANTHROPIC_ROUTES}usage_report/claude_code", guarded(usage_report, "anthropic")),
            Route("/openapi.json", openapi_document),
            Route("/static/vendor/plotly.min.js", plotly_js),
            Mount("/static", StaticFiles(directory=pages.static_dir()), name="static"),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        # Outermost first: every answer (413s and refusals included) gets the security headers.
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(BodyLimit),
            Middleware(GZipMiddleware, minimum_size=1024),
        ],
        exception_handlers={
            BadParameter: _bad_parameter,
            report.ReportRequestError: _bad_report_request,
            StoreUnavailable: _store_unavailable,
            500: _server_error,
        },
    )
    app.state.console = Console(store, ready, access, auth or AuthSettings(), signed_out, answers or KeptAnswers(0))
    return app


def _console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


# --- errors: raised by any handler, answered here ----------------------------------------------------------------


def _bad(reason: str) -> JSONResponse:
    return JSONResponse({"error": "bad_request", "message": reason}, status_code=400)


def _denied_json(decision: Decision) -> JSONResponse:
    error = "unauthorized" if decision.status == 401 else "forbidden"
    headers = {"WWW-Authenticate": 'Bearer realm="cc-analytics"'} if decision.status == 401 else None
    return JSONResponse({"error": error, "message": decision.reason}, status_code=decision.status, headers=headers)


def _anthropic_error(status: int, kind: str, message: str) -> JSONResponse:
    # Anthropic's error envelope, so clients written for its Admin API handle ours the same way.
    return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status_code=status)


async def _bad_parameter(request: Request, exc: Exception) -> Response:
    return _bad(str(exc))


async def _bad_report_request(request: Request, exc: Exception) -> Response:
    return _anthropic_error(400, "invalid_request_error", str(exc))


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    log.error("api.store_unavailable", extra={"fields": {"error": str(exc)}})
    if request.url.path.startswith(_ANTHROPIC_ROUTES):
        return _anthropic_error(503, "api_error", "the analytics store is unreachable")
    return JSONResponse({"error": "store_unavailable", "message": "the analytics store is unreachable"}, 503)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Sent outside the middleware stack (Starlette's ServerErrorMiddleware), so it names its headers itself.
    return PlainTextResponse("Internal Server Error", 500, headers=pages.SECURITY_HEADERS)


# --- the role gate -----------------------------------------------------------------------------------------------


def guarded(handler: Handler, style: str = "json") -> Callable[[Request], Awaitable[Response]]:
    """`handler` for principals whose role may read analytics; anyone else gets 401 or 403 in `style`."""

    async def endpoint(request: Request) -> Response:
        console = _console(request)
        decision = await asyncio.to_thread(decide, request, console.access, console.settings, console.signed_out)
        if decision.status == 200:
            return await handler(request, decision)
        # The path and the outcome only: never a credential, never who was tried.
        log.info("api.denied", extra={"fields": {"path": request.url.path, "status": decision.status}})
        if style == "anthropic":
            kind = "authentication_error" if decision.status == 401 else "permission_error"
            return _anthropic_error(decision.status, kind, decision.reason)
        if style == "page":
            if decision.principal is None:  # 401: nobody signed in
                return _login_form(request, console.settings)
            return pages.forbidden_page(ROLES[decision.principal.role])
        return _denied_json(decision)

    return endpoint


# --- data (role-gated) -------------------------------------------------------------------------------------------


async def analytics(request: Request, _: Decision) -> Response:
    period = parse_range(request)
    console = _console(request)
    view = await asyncio.to_thread(
        console.answers.analytics, console.store, period.start, period.end, period.organization_id, period.team
    )
    return _json_or_csv(request, view, csv_export.analytics_csv, f"claude-code-analytics-{period.start}-{period.end}")


async def team_view(request: Request, _: Decision) -> Response:
    month = parse_month(request)
    view = await asyncio.to_thread(
        readmodels.team, _console(request).store, month.year, month.month, month.organization_id, month.team
    )
    return _json_or_csv(request, view, csv_export.team_csv, f"claude-code-team-{view['month']}")


async def filters(request: Request, _: Decision) -> Response:
    period = parse_range(request)
    bounds = {"start": _midnight(period.start), "end": _midnight(period.end + timedelta(days=1))}
    rows = await asyncio.to_thread(_console(request).store.query_named, "console_filters", bounds)
    organizations = sorted({row["organization_id"] for row in rows if row["organization_id"]})
    teams = sorted({row["team"] for row in rows if row["team"]})
    return JSONResponse({"organizations": organizations, "teams": teams})


async def me(request: Request, decision: Decision) -> Response:
    principal = decision.principal
    assert principal is not None  # guarded: only allowed principals get here
    return JSONResponse({"name": principal.name, "role": principal.role, "role_name": ROLES[principal.role]})


async def usage_report(request: Request, _: Decision) -> Response:
    parsed = report.parse_request(dict(request.query_params))
    return JSONResponse(await asyncio.to_thread(report.usage_report, _console(request).store, parsed))


async def page(request: Request, _: Decision) -> Response:
    return pages.console_page()


def _json_or_csv(
    request: Request, view: dict[str, Any], as_csv: Callable[[dict[str, Any]], str], name: str
) -> Response:
    """The view as JSON, or on its `.csv` route as a CSV attachment `name`.csv."""
    if not request.url.path.endswith(".csv"):
        return JSONResponse(view)
    return Response(
        as_csv(view),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


# --- sign-in and sign-out ----------------------------------------------------------------------------------------


async def login(request: Request) -> Response:
    if request.method == "GET":
        return await confirm_login(request)
    console = _console(request)
    # BodyLimit caps what this reads to a few KiB.
    form = parse_qs((await request.body()).decode(errors="replace"))
    refusal = sign_in_refusal(request, _form_field(form, LOGIN_NONCE_FIELD))
    if refusal:
        log.info("console.login_refused", extra={"fields": {"reason": refusal}})
        return pages.sign_in_refused_page(refusal)
    principal = await asyncio.to_thread(console.access.authenticate, _form_field(form, "token"))
    if principal is None:
        log.info("console.login_failed")
        return _login_form(request, console.settings, _INVALID_TOKEN)
    log.info("console.login", extra={"fields": {"principal": principal.id, "role": principal.role}})
    response = RedirectResponse("/", status_code=303)
    set_session(response, console.access, principal, console.settings)
    # A role that may not read analytics still gets its session: "/" then answers 403 and says why.
    return response


async def confirm_login(request: Request) -> Response:
    """GET /login[?token=…]: the form, or for a valid token (the printed first-start URL) a page asking
    to confirm whom to sign in as. A GET never signs in: another site could send the browser here."""
    console = _console(request)
    token = request.query_params.get("token", "").strip()
    if not token:
        return _login_form(request, console.settings, status=200)
    principal = await asyncio.to_thread(console.access.authenticate, token)
    if principal is None:
        log.info("console.login_failed")
        return _login_form(request, console.settings, _INVALID_TOKEN)
    nonce = login_nonce(request)
    response = pages.confirm_login_page(nonce, token, principal.name, ROLES[principal.role])
    set_login_nonce(response, nonce, console.settings)
    return response


async def logout(request: Request) -> Response:
    console = _console(request)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    principal = await asyncio.to_thread(end_session, console.access, cookie, console.signed_out) if cookie else None
    if principal is not None:
        log.info("console.logout", extra={"fields": {"principal": principal.id}})
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- open: no data -----------------------------------------------------------------------------------------------


async def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(openapi.document())


async def plotly_js(request: Request) -> FileResponse:
    return FileResponse(pages.plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    ok, reason = await asyncio.to_thread(_console(request).ready)
    return JSONResponse({"status": "ready" if ok else "not ready", "reason": reason}, status_code=200 if ok else 503)


def _login_form(request: Request, settings: AuthSettings, message: str = "", status: int = 401) -> Response:
    nonce = login_nonce(request)
    response = pages.login_page(nonce, message, status)
    set_login_nonce(response, nonce, settings)
    return response


def _form_field(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0].strip()


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)
