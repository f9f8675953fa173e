"""Who is asking, and may they read analytics.

Credentials, first match wins: `x-api-key`, `Authorization: Bearer`, the reverse proxy's identity header
(only when the operator names one), the signed session cookie set by /login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from console.access import AccessStore, Principal
from console.roles import may_read_analytics
from console.sessions import SignedOutSessions
from pdata.hosts import same_origin

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
    # invalidates every session made with it. Its random id "s" is what signing out records (console.sessions).
    claims = {
        "p": principal.id,
        "v": principal.sha256[:16],
        "e": int(time.time()) + hours * 3600,
        "s": secrets.token_urlsafe(16),
    }
    payload = _b64(json.dumps(claims).encode())
    return f"{payload}.{_sign(access.session_secret, payload)}"


def _session_claims(value: str) -> tuple[str, int]:
    """(random id, expiry) of a session cookie whose signature was checked; ("", 0) when it has no id."""
    try:
        claims = json.loads(_unb64(value.partition(".")[0]))
    except (ValueError, RecursionError):
        return "", 0
    if not isinstance(claims, dict):
        return "", 0
    session_id, expires = claims.get("s"), claims.get("e")
    if not isinstance(session_id, str) or not isinstance(expires, int) or isinstance(expires, bool):
        return "", 0
    return session_id, expires


def _from_live_session(access: AccessStore, value: str, signed_out: SignedOutSessions | None) -> Principal | None:
    """The principal of a valid session cookie that was not signed out. A cookie without a session id
    (made before sign-out was recorded) cannot be signed out, so it is refused: its holder signs in again."""
    principal = _from_session(access, value)
    if principal is None:
        return None
    session_id, _ = _session_claims(value)
    if not session_id or (signed_out is not None and session_id in signed_out):
        return None
    return principal


def _from_session(access: AccessStore, value: str) -> Principal | None:
    """The principal of a well-formed, correctly signed, unexpired session cookie; None for anything else,
    however it is malformed (a refusal is a 401, never an error)."""
    payload, _, signature = value.partition(".")
    # Compared as bytes: compare_digest refuses str with non-ASCII characters.
    expected = _sign(access.session_secret, payload).encode()
    if not payload or not hmac.compare_digest(expected, signature.encode("utf-8", "surrogateescape")):
        return None
    claims = _claims(payload)
    if claims is None or claims[2] < time.time():
        return None
    principal_id, version, _ = claims
    principal = access.by_id(principal_id)
    if principal is None or not hmac.compare_digest(principal.sha256[:16].encode(), version.encode()):
        return None
    return principal


def _claims(payload: str) -> tuple[str, str, int] | None:
    """(principal id, token digest prefix, expiry in epoch seconds), or None when the payload is not that."""
    try:
        claims = json.loads(_unb64(payload))
    except (ValueError, RecursionError):  # bad base64, bad UTF-8, bad or absurdly nested JSON
        return None
    if not isinstance(claims, dict):
        return None
    principal_id, version, expires = claims.get("p"), claims.get("v"), claims.get("e")
    # bool is an int to Python, and a float may be inf or nan (JSON's 1e999): only a plain integer expires.
    if not isinstance(principal_id, str) or not isinstance(version, str):
        return None
    if not isinstance(expires, int) or isinstance(expires, bool):
        return None
    return principal_id, version, expires


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def identify(
    request: Request, access: AccessStore, settings: AuthSettings, signed_out: SignedOutSessions | None = None
) -> tuple[Principal | None, bool]:
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
        return _from_live_session(access, cookie, signed_out), True
    return None, False


def decide(
    request: Request, access: AccessStore, settings: AuthSettings, signed_out: SignedOutSessions | None = None
) -> Decision:
    principal, offered = identify(request, access, settings, signed_out)
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


def end_session(access: AccessStore, value: str, signed_out: SignedOutSessions) -> Principal | None:
    """Sign out the session of cookie `value` server-side (until it would have expired); returns its
    principal, or None when the cookie was no live session (nothing to record)."""
    principal = _from_live_session(access, value, signed_out)
    if principal is None:
        return None
    session_id, expires = _session_claims(value)
    signed_out.sign_out(session_id, expires)
    return principal


# -- sign-in from the same origin only (login CSRF) -------------------------------------------------------

LOGIN_NONCE_COOKIE = "cca_login"
LOGIN_NONCE_FIELD = "nonce"
_CROSS_SITE = frozenset({"cross-site", "same-site"})


def sign_in_refusal(request: Request, nonce: str) -> str:
    """Why a sign-in (POST /login) must be refused as coming from another site's page; "" when it may go on.

    Browsers say where a post comes from: `Sec-Fetch-Site` (sent to https and localhost origins, and not
    forgeable by a page), else `Origin`. Under Referrer-Policy: no-referrer they send `Origin: null` for our
    own form over plain http, as they do for a sandboxed frame, so then only the form's nonce (which must
    equal the SameSite=Strict cookie set with the form) shows the post came from our page. A request with
    neither header is no browser's, so no one's browser can be signed in by it."""
    site = request.headers.get("sec-fetch-site", "").strip().lower()
    if site:
        return f"sign-in from another site's page refused (Sec-Fetch-Site: {site})" if site in _CROSS_SITE else ""
    origin = request.headers.get("origin")
    if origin is None:
        return ""
    if origin.strip() != "null":
        if same_origin(origin, request.headers.get("host", "")):
            return ""
        return f"sign-in from another origin ({origin[:100]}) refused"
    expected = request.cookies.get(LOGIN_NONCE_COOKIE, "")
    if expected and nonce and hmac.compare_digest(expected.encode(), nonce.encode()):
        return ""
    return "sign-in refused: open the sign-in page of this console and submit its form"


def login_nonce(request: Request) -> str:
    """The nonce of this browser's sign-in form: the one it holds already (several tabs share it), or a new one."""
    current = request.cookies.get(LOGIN_NONCE_COOKIE, "")
    if 16 <= len(current) <= 64 and current.isascii() and current.replace("-", "").replace("_", "").isalnum():
        return current
    return secrets.token_urlsafe(24)


def set_login_nonce(response: Response, nonce: str, settings: AuthSettings) -> None:
    response.set_cookie(
        LOGIN_NONCE_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/login",
    )
