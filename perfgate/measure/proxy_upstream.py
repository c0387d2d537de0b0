"""Where the measuring proxy sends requests, and which headers cross it.

The upstream is the runtime's base URL (any base path is kept in front of
each request's path). Hop-by-hop headers belong to one connection and never
cross; everything else passes as the client or the runtime sent it.
"""

from __future__ import annotations

import http.client
import io
import select
import socket
import struct
from email.message import Message
from urllib.parse import urlsplit

from perfgate.errors import UsageError

# Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection: never forwarded either way.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
    | {"proxy-authenticate", "proxy-authorization"}
)
# Rewritten for the upstream request; Expect was already answered (100 Continue) by the handler.
REWRITTEN = frozenset({"host", "content-length", "expect"})


class Upstream:
    """Where requests go: scheme, host, port and any base path of the upstream URL."""

    def __init__(self, base_url: str, *, connect_timeout_s: float, read_timeout_s: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"perfgate proxy: the upstream must be an http:// or https:// URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.host_header = parts.netloc.rpartition("@")[2]
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s

    def connect(self) -> http.client.HTTPConnection:
        """A connected ``HTTPConnection`` (OSError when nothing answers)."""
        kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        conn = kind(self.host, self.port, timeout=self.connect_timeout_s)
        conn.connect()
        # Without TCP_NODELAY a small write can wait for the previous one's ACK
        # (Nagle + delayed ACK): tens of ms added to a request or a token.
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sock.settimeout(self.read_timeout_s)
        # The body is read with the socket in blocking mode and this kernel
        # timeout instead (see ProxyHandler._pump_body): Python's own timeout
        # costs a poll() before every recv(), i.e. per token.
        seconds = max(self.read_timeout_s, 0.001)
        timeval = struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000))
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        return conn


def send_request(
    conn: http.client.HTTPConnection,
    upstream: Upstream,
    method: str,
    target: str,
    *,
    headers: Message,
    body: bytes,
    identity: bool,
    close: bool,
) -> None:
    """The client's request, with its end-to-end headers, to the upstream (``identity``: ask for no compression)."""
    conn.putrequest(method, upstream.prefix + target, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", upstream.host_header)
    dropped = HOP_BY_HOP | REWRITTEN | connection_tokens(headers.get_all("Connection"))
    if identity:
        # A compressed stream could not be observed; a local runtime does
        # not compress anyway, so this changes no bytes in practice.
        dropped |= {"accept-encoding"}
        conn.putheader("Accept-Encoding", "identity")
    for name, value in headers.items():
        if name.lower() not in dropped:
            conn.putheader(name, value)
    if body or method in ("POST", "PUT", "PATCH"):
        conn.putheader("Content-Length", str(len(body)))
    if close:
        conn.putheader("Connection", "close")
    # Headers and body leave in one send (http.client joins them for a bytes body).
    conn.endheaders(body or None)


def read_request_body(rfile: io.BufferedIOBase, headers: Message) -> bytes:
    """The whole request body, chunked or not (ValueError or OSError when it never fully arrives)."""
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        parts: list[bytes] = []
        while size := int(rfile.readline(65537).split(b";", 1)[0].strip(), 16):
            parts.append(rfile.read(size))
            rfile.readline(65537)  # the chunk's CRLF
        while rfile.readline(65537).strip():  # trailers, up to the blank line
            pass
        return b"".join(parts)
    length = int(headers.get("Content-Length") or 0)
    body = rfile.read(length) if length > 0 else b""
    if len(body) != max(length, 0):
        raise ValueError("request body cut short")
    return body


def still_open(conn: http.client.HTTPConnection) -> bool:
    """Whether a kept-alive upstream connection is still usable (an idle one that is readable has been closed)."""
    if conn.sock is None:
        return False
    readable, _, _ = select.select([conn.sock], [], [], 0)
    return not readable


def origin_form(target: str) -> str:
    """``/path?query`` of a request target, also when a client sent it absolute (``http://host/path``)."""
    if target.startswith("/"):
        return target
    parts = urlsplit(target)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def connection_tokens(values: list[str] | None) -> frozenset[str]:
    """Header names a Connection header lists: hop-by-hop for that message."""
    return frozenset(token.strip().lower() for value in values or () for token in value.split(","))
