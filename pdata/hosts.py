"""The `Host` and `Origin` headers read alike by every HTTP listener: the collector's Host guard and the
console's sign-in form both ask whether a browser's post comes from the origin it was sent to."""

from __future__ import annotations

from urllib.parse import urlsplit


def split_host(value: str) -> tuple[str, int | None]:
    """`Host` header → (lower-case name without brackets or trailing dot, port or None)."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:4318
        name, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        name, _, port_text = value.partition(":")
    else:  # a bare name, or a bare IPv6 address
        name, port_text = value, ""
    port = int(port_text) if port_text.isdigit() else None
    return name.rstrip("."), port


def same_origin(origin: str, host_header: str) -> bool:
    """Whether an `Origin` names the host (and port, when the Host header carries one) the request was sent to.
    The scheme is not compared: behind a TLS-terminating proxy the browser says https, the listener sees http."""
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.hostname:
        return False  # "null" (sandboxed frames, opaque origins) and anything unparsable
    host, port = split_host(host_header)
    if parts.hostname.rstrip(".") != host:
        return False
    if port is None:
        return True
    try:
        origin_port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a port out of range
        return False
    return origin_port == port
