"""The measuring proxy's request handler: one client connection, each request relayed upstream and recorded.

The proxy mirrors the client's connections: a client that keeps its
connection alive gets one upstream connection kept alive with it (re-opened
once, transparently, if the runtime had closed it while idle); a client that
sends ``Connection: close`` makes the proxy close upstream too.

The answer's body is relayed as raw bytes, one ``recv`` and one ``sendall``
per upstream read: a chunked body passes with the runtime's own chunk framing
(the client sees the same chunks), a Content-Length body as is, a body the
runtime ends by closing is re-chunked. Each read is kept with its clock
reading and parsed (``ChunkedRelay``, then the ``ResponseObserver``) once the
body's end may have come, after the bytes were written to the client.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from perfgate.contracts.proxy import ProxyApi, ProxyRecord
from perfgate.errors import (
    CouldNotMeasure,
    RuntimeFailure,
    RuntimeTimeout,
    RuntimeUnavailable,
    StreamTruncated,
)
from perfgate.measure.proxy_observe import (
    ChunkedBody,
    ChunkedRelay,
    RequestFacts,
    ResponseObserver,
    classify,
    request_facts,
)
from perfgate.measure.proxy_upstream import (
    HOP_BY_HOP,
    Upstream,
    connection_tokens,
    origin_form,
    read_request_body,
    send_request,
    still_open,
)

_READ_SIZE = 65536

RecordSink = Callable[[ProxyRecord], None]
Sink = Callable[[bytes, int], None]


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True  # a stalled stream must not keep the process alive
    upstream: Upstream
    add_record: RecordSink
    connections: set[socket.socket]
    connections_lock: threading.Lock
    in_flight: int  # requests whose record is not made yet, guarded by ``idle``
    idle: threading.Condition

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:  # noqa: ANN401 -- stdlib signature
        # A client hanging up is routine for a proxy; anything else is a bug worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _ClientGone(Exception):
    """Writing to the client failed: it went away."""


@dataclass(frozen=True)
class _NoAnswer:
    """The runtime never answered: what the client gets (status) and the record says (error)."""

    status: int
    error: CouldNotMeasure


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "perfgate-proxy"
    sys_version = ""
    server: ProxyServer
    started_ns: int = 0
    _conn: http.client.HTTPConnection | None = None
    _sent: int = 0

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.request)
        super().setup()

    def finish(self) -> None:
        self._drop_upstream()
        with self.server.connections_lock:
            self.server.connections.discard(self.request)
        with contextlib.suppress(OSError):  # the client or stop() already closed the socket
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: ANN401 -- stdlib signature
        pass  # nothing on the per-request path but the request

    def parse_request(self) -> bool:
        self.started_ns = time.perf_counter_ns()
        return super().parse_request()

    def forward(self) -> None:
        """Send the request upstream, relay the answer, record what was seen."""
        # Counted in flight until its record is made: the client may have the
        # whole answer (and its app may have exited) while the record is made.
        idle = self.server.idle
        with idle:
            self.server.in_flight += 1
        try:
            self._forward()
        finally:
            with idle:
                self.server.in_flight -= 1
                idle.notify_all()

    def _forward(self) -> None:
        target = origin_form(self.path)
        path = urlsplit(target).path
        api = classify(self.command, path)
        url = f"{self.server.upstream.base_url}{target}"
        try:
            body = read_request_body(self.rfile, self.headers)
        except (OSError, ValueError):
            self.close_connection = True  # a request that never fully arrived gets no answer
            return
        record: dict[str, Any] = {"method": self.command, "path": path, "api": api, "request_bytes": len(body)}
        facts: list[RequestFacts] = []
        opened = self._open(api, target, url, body, facts)
        if not facts:  # the request never left
            facts.append(request_facts(api, body))
        record.update(asdict(facts[0]))
        if isinstance(opened, _NoAnswer):
            self._answer_error(api, opened.status, opened.error.message)
            record.update(error=opened.error.message, error_kind=opened.error.kind)
            self._record(record)
            return
        response, sent_ns, sock = opened
        record["status"] = response.status
        observer = None
        if api != "other":
            content_type = response.getheader("Content-Type") or ""
            observer = ResponseObserver(
                api, url=url, model=facts[0].model, status=response.status, content_type=content_type
            )
        problem = self._relay(response, sock, url, observer)
        if observer is not None:
            if problem is not None:
                observer.fail(problem)
            else:
                observer.finish()
            record["observation"], record["error"], record["error_kind"] = observer.result(sent_ns)
        elif problem is not None:
            record.update(error=problem.message, error_kind=problem.kind)
        self._record(record)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = forward

    # ------------------------------------------------------------ request

    def _open(
        self, api: ProxyApi, target: str, url: str, body: bytes, facts: list[RequestFacts]
    ) -> tuple[http.client.HTTPResponse, int, socket.socket] | _NoAnswer:
        """Send the request and read the answer's head; ``facts`` gets the request's facts meanwhile."""
        for attempt in (1, 2):
            reused = self._conn is not None and still_open(self._conn)
            if not reused:
                self._drop_upstream()
                try:
                    self._conn = self.server.upstream.connect()
                except OSError as exc:
                    return _NoAnswer(
                        502, RuntimeUnavailable(f"runtime unavailable: nothing is listening at {url} ({exc})")
                    )
            conn = self._conn
            assert conn is not None  # connected just above or kept from the previous request
            try:
                send_request(
                    conn,
                    self.server.upstream,
                    self.command,
                    target,
                    headers=self.headers,
                    body=body,
                    identity=api != "other",
                    close=self.close_connection,
                )
                sent_ns = time.perf_counter_ns()
                if not facts:
                    facts.append(request_facts(api, body))  # while the runtime works on it
                sock = conn.sock  # the response keeps it open even if the connection lets go of it
                return conn.getresponse(), sent_ns, sock
            except TimeoutError:
                self._drop_upstream()
                return _NoAnswer(504, RuntimeTimeout(f"runtime timed out at {url} (no answer)"))
            except (OSError, http.client.HTTPException) as exc:
                self._drop_upstream()
                # A kept-alive connection the runtime closed while idle: the
                # request never reached it, so sending it again is safe.
                if reused and attempt == 1 and isinstance(exc, ConnectionError):
                    continue
                return _NoAnswer(502, RuntimeFailure(f"runtime connection failed at {url}: {exc!r}"))
        raise AssertionError("unreachable: the second attempt always returns")

    # ------------------------------------------------------------ answer

    def _relay(
        self, response: http.client.HTTPResponse, sock: socket.socket, url: str, observer: ResponseObserver | None
    ) -> CouldNotMeasure | None:
        """The answer's head, then its body as it comes; what went wrong, if anything."""
        has_body = self.command != "HEAD" and response.status not in (204, 304) and response.status >= 200
        self.send_response_only(response.status, response.reason)
        dropped = HOP_BY_HOP | connection_tokens(response.msg.get_all("Connection"))
        if response.chunked:
            dropped |= {"content-length"}  # Transfer-Encoding wins over a stray Content-Length
        for name, value in response.msg.items():
            if name.lower() not in dropped:
                self.send_header(name, value)
        # Chunked out: the runtime's chunks as they are, or a connection-delimited body re-chunked.
        chunked_out = has_body and (response.chunked or response.length is None)
        if chunked_out and self.request_version != "HTTP/1.1":
            chunked_out = False
            self.close_connection = True  # an HTTP/1.0 client reads to the end of the connection
        if chunked_out:
            self.send_header("Transfer-Encoding", "chunked")
        if self.close_connection:
            self.send_header("Connection", "close")
        problem: CouldNotMeasure | None = None
        try:
            self.end_headers()
        except OSError:
            problem = self._client_gone()
        if problem is None and has_body:
            problem = self._pump(response, sock, url, observer, chunked_out=chunked_out)
        reusable = problem is None and not response.will_close and not self.close_connection
        response.close()  # the socket stays with the connection when it is kept
        if not reusable:
            self._drop_upstream()
        return problem

    def _pump(
        self,
        response: http.client.HTTPResponse,
        sock: socket.socket,
        url: str,
        observer: ResponseObserver | None,
        *,
        chunked_out: bool,
    ) -> CouldNotMeasure | None:
        """Relay the body; what went wrong, if anything. A broken upstream is mirrored to the client."""
        try:
            self._pump_body(response, sock, url, observer, chunked_out=chunked_out)
            sock.settimeout(self.server.upstream.read_timeout_s)  # for the next answer's head, if kept
        except _ClientGone:
            return self._client_gone()
        except (TimeoutError, BlockingIOError):  # BlockingIOError: SO_RCVTIMEO ran out
            return self._abort(RuntimeTimeout(f"runtime timed out mid-stream at {url}"))
        except OSError as exc:
            return self._abort(StreamTruncated(f"stream truncated: connection to {url} broke mid-stream ({exc!r})"))
        except CouldNotMeasure as exc:  # the body ended early, or its chunk framing is broken
            return self._abort(exc)
        return None

    def _pump_body(
        self,
        response: http.client.HTTPResponse,
        sock: socket.socket,
        url: str,
        observer: ResponseObserver | None,
        *,
        chunked_out: bool,
    ) -> None:
        # Per read: one recv, one clock reading (when the bytes are in hand:
        # when the app would have them), one sendall, and the read kept for
        # parsing later. The first read drains what the head's buffered reader
        # already holds (or waits, with Python's timeout); every later one is a
        # bare recv on the socket in blocking mode, its timeout the kernel's
        # SO_RCVTIMEO.
        assert response.fp is not None  # begin() has read the head; the body is next on this reader
        first = response.fp.read1(_READ_SIZE if response.length is None else min(_READ_SIZE, response.length))
        sock.settimeout(None)
        feed = observer.feed if observer is not None else None
        if not response.chunked:
            self._pump_plain(first, sock.recv, response.length, feed, url, rechunk=chunked_out)
        elif chunked_out:
            relay = ChunkedRelay(url, feed)
            self._pump_chunked(first, sock.recv, relay, url)
            # Bytes past the body's end: never reuse this connection.
            response.will_close = response.will_close or relay.body.excess > 0
        else:
            self._pump_dechunked(first, sock.recv, ChunkedBody(url), feed, url)

    def _pump_chunked(self, data: bytes, recv: Callable[[int], bytes], relay: ChunkedRelay, url: str) -> None:
        """The usual answer: the runtime's own chunks, passed as they are.

        The hot loop of the proxy (once per token): ``ChunkedRelay.push`` and
        ``_write`` written out in place, which is a fifth of its own CPU.
        """
        sendall, clock, keep = self.request.sendall, time.perf_counter_ns, relay.pending.append
        sent, tail, kept = 0, b"", 0
        try:
            while data:
                at_ns = clock()
                try:
                    sendall(data)
                except OSError as exc:
                    raise _ClientGone from exc
                sent += len(data)
                keep((data, at_ns))
                kept += 1
                # Only a body's last chunk ends in CRLF CRLF (see ChunkedRelay).
                tail = data[-4:] if len(data) >= 4 else (tail + data)[-4:]
                if tail == b"\r\n\r\n" or kept >= relay.CATCH_UP_READS:
                    if relay.catch_up():
                        return
                    kept = 0
                data = recv(_READ_SIZE)
        finally:
            self._sent += sent
        if not relay.catch_up():
            raise StreamTruncated(f"stream truncated: {url} closed the connection mid-body")

    def _pump_plain(
        self, data: bytes, recv: Callable[[int], bytes], left: int | None, feed: Sink | None, url: str, *, rechunk: bool
    ) -> None:
        """A Content-Length body as it is, or one the runtime ends by closing (re-chunked for HTTP/1.1)."""
        write, clock = self._write, time.perf_counter_ns
        while data:
            at_ns = clock()
            write(b"%X\r\n%s\r\n" % (len(data), data) if rechunk else data)
            self._sent += len(data)
            if feed is not None:
                feed(data, at_ns)
            if left is not None:
                left -= len(data)
                if not left:
                    return
            data = recv(_READ_SIZE if left is None else min(_READ_SIZE, left))
        if left:
            raise StreamTruncated(f"stream truncated: {url} closed the connection mid-body")
        if rechunk:
            write(b"0\r\n\r\n")  # the end of a body that the runtime ended by closing

    def _pump_dechunked(
        self, data: bytes, recv: Callable[[int], bytes], framing: ChunkedBody, feed: Sink | None, url: str
    ) -> None:
        """A chunked answer to an HTTP/1.0 client: the payload only, the connection's end ends it."""
        while data:
            at_ns = time.perf_counter_ns()
            pieces = framing.feed(data)
            self._write(b"".join(pieces))
            self._sent += len(data)
            if feed is not None:
                for piece in pieces:
                    feed(piece, at_ns)
            if framing.done:
                return
            data = recv(_READ_SIZE)
        raise StreamTruncated(f"stream truncated: {url} closed the connection mid-body")

    def _write(self, data: bytes) -> None:
        try:
            self.request.sendall(data)  # what wfile.write does, one call less per read
        except OSError as exc:
            raise _ClientGone from exc

    # ------------------------------------------------------------ endings

    def _answer_error(self, api: ProxyApi, status: int, message: str) -> None:
        """The proxy's own answer when the runtime gave none: a JSON error as the API would word it."""
        text = f"perfgate proxy: {message}"
        payload: object = {"error": {"message": text, "type": "proxy_error", "code": status}}
        if not api.startswith("openai"):
            payload = {"error": text}
        data = json.dumps(payload).encode("utf-8")
        with contextlib.suppress(OSError):  # the client may be gone too
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def _record(self, fields: dict[str, Any]) -> None:
        ended_ns = time.perf_counter_ns()
        self.server.add_record(
            ProxyRecord(started_ns=self.started_ns, ended_ns=ended_ns, response_bytes=self._sent, **fields)
        )
        self._sent = 0

    def _client_gone(self) -> StreamTruncated:
        self.close_connection = True
        return StreamTruncated("stream truncated: the client closed its connection to the proxy mid-response")

    def _abort(self, error: CouldNotMeasure) -> CouldNotMeasure:
        """Close the client's connection without finishing the response, as the runtime did."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # already closed by the client
            self.request.shutdown(socket.SHUT_RDWR)
        return error

    def _drop_upstream(self) -> None:
        # Closing the upstream connection is also what stops the runtime
        # generating for a client that went away.
        if self._conn is not None:
            self._conn.close()
            self._conn = None
