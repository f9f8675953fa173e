"""JSON analytics API: /api/v1/analytics, /api/v1/team, /healthz, /readyz. UTC days."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from exporters.clickhouse import ClickHouseStore, StoreUnavailable, views

log = logging.getLogger("cc_analytics.api")

MAX_RANGE_DAYS = 400
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class BadParameter(ValueError):
    pass


def _date(request: Request, name: str, default: date) -> date:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    problem = BadParameter(f"{name} must be a date as YYYY-MM-DD, got {text[:40]!r}")
    if len(text) != 10:
        raise problem
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise problem from None


def _text(request: Request, name: str) -> str:
    value = request.query_params.get(name, "")
    if len(value) > 256:
        raise BadParameter(f"{name} is longer than 256 characters")
    return value


def _today() -> date:
    return datetime.now(UTC).date()


def create_api_app(store: ClickHouseStore, ready: Callable[[], tuple[bool, str]]) -> Starlette:
    async def analytics(request: Request) -> JSONResponse:
        try:
            end = _date(request, "end", _today())
            start = _date(request, "start", end - timedelta(days=29))
            if start > end:
                raise BadParameter(f"start {start} is after end {end}")
            if (end - start).days + 1 > MAX_RANGE_DAYS:
                raise BadParameter(f"the range is longer than {MAX_RANGE_DAYS} days")
            organization_id, team = _text(request, "org"), _text(request, "team")
        except BadParameter as exc:
            return _bad(str(exc))
        return await _serve(views.analytics, store, start, end, organization_id, team)

    async def team_view(request: Request) -> JSONResponse:
        text = request.query_params.get("month") or _today().strftime("%Y-%m")
        match = _MONTH.match(text)
        if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
            return _bad(f"month must be YYYY-MM, got {text[:40]!r}")
        try:
            organization_id, team = _text(request, "org"), _text(request, "team")
        except BadParameter as exc:
            return _bad(str(exc))
        return await _serve(views.team, store, int(match.group(1)), int(match.group(2)), organization_id, team)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        ok, reason = await asyncio.to_thread(ready)
        return JSONResponse({"status": "ready" if ok else "not ready", "reason": reason}, status_code=200 if ok else 503)

    return Starlette(
        routes=[
            Route("/api/v1/analytics", analytics),
            Route("/api/v1/team", team_view),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ]
    )


def _bad(reason: str) -> JSONResponse:
    return JSONResponse({"error": "bad_request", "message": reason}, status_code=400)


async def _serve(view, *arguments) -> JSONResponse:
    try:
        return JSONResponse(await asyncio.to_thread(view, *arguments))
    except StoreUnavailable as exc:
        log.error("api.store_unavailable", extra={"fields": {"error": str(exc)}})
        return JSONResponse({"error": "store_unavailable", "message": "the analytics store is unreachable"}, 503)
