"""Scripted runtime HTTP for the runtime clients' unit tests: no socket, and a clock the stream advances.

A ``Script`` is an ``httpx.MockTransport`` handler answering each request with
the next scripted response; ``streamed`` makes a streaming response whose
chunks set the ``FakeClock`` as they arrive, so the timings a client computes
are exactly the ones the test wrote down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx

Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """Reads whatever time the scripted stream last set."""

    def __init__(self, now: int = 100) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class TimedStream(httpx.SyncByteStream):
    """Delivers (time, bytes) chunks, setting the clock as each arrives; an exception item is raised."""

    def __init__(self, clock: FakeClock, items: list[tuple[int, bytes] | Exception]) -> None:
        self.clock = clock
        self.items = items

    def __iter__(self) -> Iterator[bytes]:
        for item in self.items:
            if isinstance(item, Exception):
                raise item
            self.clock.now, data = item
            yield data


class Script:
    """A MockTransport handler: one response (or exception) per call, in order; records requests."""

    def __init__(self, *responses: httpx.Response | Exception | Callable[[], httpx.Response]) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.responses.pop(0)
        if isinstance(item, Exception):
            raise item
        if callable(item) and not isinstance(item, httpx.Response):
            return item()
        return item


def mock_http(handler: Handler) -> httpx.Client:
    """An httpx client whose every request goes to ``handler`` (no socket)."""
    return httpx.Client(transport=httpx.MockTransport(handler))


def streamed(clock: FakeClock, content_type: str, *items: tuple[int, bytes] | Exception) -> httpx.Response:
    """A 200 streaming ``content_type``: each (time, bytes) item sets ``clock`` as it is read."""
    return httpx.Response(200, headers={"content-type": content_type}, stream=TimedStream(clock, list(items)))
