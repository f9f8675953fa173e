"""Who is asking, and may they read analytics.

Credentials, first match wins: `x-api-key`, `Authorization: Bearer`, the reverse proxy's identity header
(only when the operator names one), the signed session cookie set by /login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from console.access import AccessStore, Principal
from console.roles import may_read_analytics

SESSION_COOKIE = "cca_session"


@dataclass(frozen=True, slots=True)
class AuthSettings:
    session_hours: int = 12
    cookie_secure: bool = False
    trusted_header: str = ""  # e.g. X-Forwarded-Email; empty = never trust a header


@dataclass(frozen=True, slots=True)
class Decision:
    principal: Principal | None
    status: int  # 200 allowed, 401 no/unknown credentials, 403 role may not read analytics
    reason: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()


def session_value(access: AccessStore, principal: Principal, hours: int) -> str:
    # The cookie names the principal and a prefix of its token digest: rotating or revoking the token
    # invalidates every session made with it, with nothing to keep server-side.
    payload = _b64(
        json.dumps({"p": principal.id, "v": principal.sha256[:16], "e": int(time.time()) + hours * 3600}).encode()
    )
    return f"{payload}.{_sign(access.session_secret, payload)}"


def _from_session(access: AccessStore, value: str) -> Principal | None:
    payload, _, signature = value.partition(".")
    if not payload or not hmac.compare_digest(_sign(access.session_secret, payload), signature):
        return None
    try:
        claims = json.loads(_unb64(payload))
        principal_id, version, expires = str(claims["p"]), str(claims["v"]), int(claims["e"])
    except (ValueError, KeyError, TypeError):
        return None
    if expires < time.time():
        return None
    principal = access.by_id(principal_id)
    if principal is None or not hmac.compare_digest(principal.sha256[:16], version):
        return None
    return principal


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def identify(request: Request, access: AccessStore, settings: AuthSettings) -> tuple[Principal | None, bool]:
    """The principal behind the request, and whether any credential was offered at all."""
    token = request.headers.get("x-api-key", "").strip() or _bearer(request)
    if token:
        return access.authenticate(token), True
    if settings.trusted_header:
        name = request.headers.get(settings.trusted_header, "").strip()
        if name:
            return access.by_name(name), True
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if cookie:
        return _from_session(access, cookie), True
    return None, False


def decide(request: Request, access: AccessStore, settings: AuthSettings) -> Decision:
    principal, offered = identify(request, access, settings)
    if principal is None:
        reason = "unknown or expired credentials" if offered else "credentials required"
        return Decision(None, 401, reason)
    if not may_read_analytics(principal.role):
        return Decision(principal, 403, "this role may not view analytics")
    return Decision(principal, 200, "")


def set_session(response: Response, access: AccessStore, principal: Principal, settings: AuthSettings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_value(access, principal, settings.session_hours),
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )

