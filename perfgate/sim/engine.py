"""The simulated runtime's shared state and clock discipline.

One :class:`SimEngine` per server: whether the model is loaded (and until
when), how many generation requests were served (for ``fault_after``), the
seeded jitter RNG, and precise sleeping. Request handlers run in threads, so
every mutable field is guarded by a lock.
"""

from __future__ import annotations

import math
import random
import threading
import time

from perfgate.sim.profile import SimProfile

# Coarse sleeps overshoot by ~0.1 ms on Linux and more on macOS; the last
# stretch before a deadline is spent yielding instead, so a 2,000 tok/s
# stream (0.5 ms per token) keeps its rate.
SPIN_NS = 1_000_000


class SimEngine:
    """Load state, fault bookkeeping, jitter and pacing for one simulated runtime."""

    def __init__(self, profile: SimProfile, stop: threading.Event) -> None:
        self.profile = profile
        self.stop = stop
        self._lock = threading.Lock()
        # Loads are serialised like Ollama's scheduler: a request queued behind
        # a load waits, and that wait is reported as its load_duration.
        self._load_lock = threading.Lock()
        self._rng = random.Random(profile.seed)
        self._loaded = False
        self._in_flight = 0
        self._expires_at = 0.0
        self._unload_pending = False  # keep_alive 0 arrived while a request held the model
        self._generations = 0

    # ------------------------------------------------------------ faults

    def claim_generation(self) -> bool:
        """Count one generation request; True when the profile's fault applies to it."""
        with self._lock:
            index = self._generations
            self._generations += 1
        return self.profile.fault is not None and index >= self.profile.fault_after

    def fault_active(self) -> bool:
        """True once ``fault_after`` generation requests have been served (for non-generation endpoints)."""
        with self._lock:
            served = self._generations
        return self.profile.fault is not None and served >= self.profile.fault_after

    def model_visible(self) -> bool:
        return not (self.profile.fault == "model_missing" and self.fault_active())

    def has_model(self, name: object, *, missing: bool | None = None) -> bool:
        """Whether ``name`` is this runtime's model, with Ollama's implicit ``:latest`` tag.

        ``missing`` is a generation request's own model_missing verdict (from
        :meth:`claim_generation`); other endpoints go by the current state.
        """
        if missing is None:
            missing = not self.model_visible()
        if not isinstance(name, str) or missing:
            return False
        served = self.profile.model
        return served in {name, f"{name}:latest"} or name == f"{served}:latest"

    # ------------------------------------------------------------ loading

    def acquire(self) -> bool:
        """Make the model resident, waiting ``load_ms`` when cold; hold it for one request.

        Returns False when the server is stopping. Every True must be paired with :meth:`release`.
        """
        with self._load_lock:
            self._expire_if_due()
            with self._lock:
                loaded = self._loaded
            if not loaded:
                if self.stop.wait(self.profile.load_ms / 1000.0):
                    return False
                with self._lock:
                    self._loaded = True
            with self._lock:
                self._in_flight += 1
                self._unload_pending = False  # this request's own keep_alive decides now, as in Ollama
        return True

    def release(self, keep_alive_s: float) -> None:
        """End one request's hold; the model stays loaded for ``keep_alive_s`` (0 unloads now)."""
        with self._lock:
            self._in_flight -= 1
            self._expires_at = time.monotonic() + keep_alive_s
            if (keep_alive_s <= 0 or self._unload_pending) and self._in_flight == 0:
                self._loaded = False
                self._unload_pending = False

    def unload(self) -> None:
        """What a ``keep_alive: 0`` preload asks for: now, or when the requests holding the model end.

        Ollama's scheduler does the same (``server/sched.go``): a client may ask for the unload as soon
        as it has read a request's last line, before the server has let that request go.
        """
        with self._lock:
            if self._in_flight == 0:
                self._loaded = False
            else:
                self._unload_pending = True

    def expires_in_s(self) -> float | None:
        """Seconds until the loaded model expires; None when it is not loaded."""
        self._expire_if_due()
        with self._lock:
            if not self._loaded:
                return None
            return math.inf if self._in_flight else max(0.0, self._expires_at - time.monotonic())

    def _expire_if_due(self) -> None:
        with self._lock:
            if self._loaded and self._in_flight == 0 and time.monotonic() >= self._expires_at:
                self._loaded = False

    # ------------------------------------------------------------ timing

    def jitter(self) -> float:
        """A lognormal factor with mean 1 and the profile's CV (exactly 1 when CV is 0)."""
        cv = self.profile.jitter_cv
        if cv == 0:
            return 1.0
        sigma2 = math.log1p(cv * cv)
        with self._lock:
            z = self._rng.gauss(0.0, 1.0)
        return math.exp(-sigma2 / 2 + math.sqrt(sigma2) * z)

    def ttft_ns(self, prompt_tokens: int) -> int:
        """This request's wait between 'model ready' and its first token."""
        return round(self.profile.expected_ttft_ms(prompt_tokens) * 1e6 * self.jitter())

    def gap_ns(self) -> int:
        """This token's share of the decode schedule."""
        return round(1e9 / self.profile.tok_s * self.jitter())

    def sleep_until(self, deadline_ns: int) -> bool:
        """Sleep until ``perf_counter_ns() >= deadline_ns``; False if the server is stopping."""
        while True:
            remaining = deadline_ns - time.perf_counter_ns()
            if remaining <= 0:
                return True
            if self.stop.is_set():
                return False
            if remaining > SPIN_NS:
                self.stop.wait((remaining - SPIN_NS) / 1e9)
            else:
                # sleep(0) releases the GIL, so an in-process client is not starved while we wait.
                time.sleep(0)

    def pause(self, seconds: float) -> bool:
        """A stall that ends early when the server stops; False if it did."""
        return not self.stop.wait(seconds)
