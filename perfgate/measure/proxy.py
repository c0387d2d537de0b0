"""The measuring proxy: a loopback HTTP/1.1 proxy between an app and its runtime.

Every request, whatever its method and path, goes to the upstream runtime;
every answer comes back unchanged (status, end-to-end headers, body bytes in
order), each upstream read written to the client the moment it returns
(:mod:`perfgate.measure.proxy_relay`). Generation requests (Ollama
``/api/chat`` and ``/api/generate``, OpenAI ``/v1/chat/completions`` and
``/v1/completions``) are also observed as they pass
(:mod:`perfgate.measure.proxy_observe`) into a ``ProxyRecord`` per request,
timed at the proxy: what ``perfgate run`` records, for the app's own requests.

Built on the stdlib (``ThreadingHTTPServer``, ``http.client`` for the
request and the answer's head, the bare socket for the body): per upstream
read the proxy does one ``recv``, one clock reading and one ``sendall``, and
keeps the bytes to parse once the answer is complete. An httpx read loop
alone costs more per token than all of that (``tests/bench/bench_proxy.py``
prints both, next to a bare TCP relay: the floor). Nothing is logged; the
request's hashes are computed while the runtime works on it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Self

from perfgate.contracts.proxy import ProxyRecord
from perfgate.errors import UsageError
from perfgate.measure.proxy_relay import ProxyHandler, ProxyServer, RecordSink
from perfgate.measure.proxy_upstream import Upstream


class MeasuringProxy:
    """The proxy on a background thread; a context manager (start on enter, stop on exit).

    ``take_records()`` returns the records of requests completed so far and
    forgets them; with ``keep_records=False`` nothing is kept and each record
    only goes to ``on_record`` (called from the request's thread).
    """

    def __init__(
        self,
        upstream_base_url: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        on_record: RecordSink | None = None,
        keep_records: bool = True,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 120.0,
    ) -> None:
        self.upstream = Upstream(upstream_base_url, connect_timeout_s=connect_timeout_s, read_timeout_s=read_timeout_s)
        self._host = host
        self._port = port
        self._on_record = on_record
        self._keep = keep_records
        self._records: list[ProxyRecord] = []
        self._lock = threading.Lock()
        self._httpd: ProxyServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def host_port(self) -> str:
        """``host:port`` the proxy listens on (what ``OLLAMA_HOST`` takes)."""
        if self._httpd is None:
            raise RuntimeError("MeasuringProxy is not started")
        host, port = self._httpd.server_address[:2]
        return f"{host!s}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"

    def take_records(self, *, wait_s: float = 2.0) -> list[ProxyRecord]:
        """The records of every request completed so far; they are forgotten here.

        Waits up to ``wait_s`` for requests still in flight: a client can have
        an answer's last byte (and its app can have exited) a few ms before
        the proxy has parsed the answer and made its record.
        """
        httpd = self._httpd
        if httpd is not None and wait_s > 0:
            with httpd.idle:
                httpd.idle.wait_for(lambda: httpd.in_flight == 0, timeout=wait_s)
        with self._lock:
            taken, self._records = self._records, []
        return taken

    def _add_record(self, record: ProxyRecord) -> None:
        if self._keep:
            with self._lock:
                self._records.append(record)
        if self._on_record is not None:
            self._on_record(record)

    def start(self) -> str:
        """Listen and serve from a background thread; the proxy's URL."""
        try:
            httpd = ProxyServer((self._host, self._port), ProxyHandler)
        except OSError as exc:
            raise UsageError(
                f"perfgate proxy: cannot listen on {self._host}:{self._port}: {exc.strerror or exc}"
            ) from exc
        httpd.upstream = self.upstream
        httpd.add_record = self._add_record
        httpd.connections = set()
        httpd.connections_lock = threading.Lock()
        httpd.in_flight = 0
        httpd.idle = threading.Condition()
        self._httpd = httpd
        # stop() waits up to one poll interval for the loop to notice; each
        # poll is a wake-up of an idle proxy: 0.2 s balances the two.
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="perfgate-proxy", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and drop open connections (in-flight requests end unrecorded)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            with self._httpd.connections_lock:
                open_sockets = list(self._httpd.connections)
            for sock in open_sockets:
                with contextlib.suppress(OSError):  # already closed
                    sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(5.0)
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
