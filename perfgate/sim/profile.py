"""The simulated runtime's profile: how fast it is and how it breaks.

The profile crosses a process boundary (``perfgate run --runtime sim`` starts
``perfgate sim`` as a child), so it has exactly one command-line form,
produced by :meth:`SimProfile.to_args` and parsed by the CLI's ``sim``
subcommand.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from perfgate.config import SimConfig

FaultName = Literal["model_missing", "http_500", "error_midstream", "disconnect_midstream", "stall", "malformed_line"]

FAULTS: tuple[FaultName, ...] = (
    "model_missing",
    "http_500",
    "error_midstream",
    "disconnect_midstream",
    "stall",
    "malformed_line",
)

DEFAULT_MODEL = "qwen2.5:7b-instruct-q4_K_M"


class SimProfile(BaseModel):
    """Timing, memory and fault behaviour of one simulated runtime."""

    # A NaN or infinite delay would hang or crash the server: refused like a negative one.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    model: str = Field(default=DEFAULT_MODEL, min_length=1, description="The one model the simulator serves.")
    ttft_ms: float = Field(default=40.0, ge=0, description="Time to first token of a short prompt (warm).")
    tok_s: float = Field(default=60.0, gt=0, description="Decode rate in tokens per second.")
    prefill_tok_s: float = Field(
        default=2000.0,
        gt=0,
        description="Prompt evaluation rate; a prompt longer than ttft_ms worth of prefill delays the first token.",
    )
    jitter_cv: float = Field(default=0.03, ge=0, description="CV of the lognormal (mean 1) timing noise.")
    load_ms: float = Field(default=800.0, ge=0, description="Extra wait of the first request while not loaded.")
    ballast_mb: int = Field(default=64, ge=0, description="MiB held resident by the runner child process.")
    fault: FaultName | None = Field(default=None, description="Fault injected into generation requests.")
    fault_after: int = Field(
        default=0, ge=0, description="Generation requests served normally before the fault applies (preloads excluded)."
    )
    stall_s: float = Field(default=30.0, ge=0, description="How long the 'stall' fault holds the stream.")
    seed: int = Field(default=0, description="Seed of the jitter RNG.")

    @classmethod
    def from_config(cls, sim: SimConfig, *, model: str = DEFAULT_MODEL, **overrides: Any) -> SimProfile:  # noqa: ANN401 -- overrides are validated by pydantic below
        """Profile from the ``[tool.perfgate.sim]`` table plus explicit overrides."""
        return cls.model_validate({**sim.model_dump(), "model": model, **overrides})

    def expected_ttft_ms(self, prompt_tokens: int) -> float:
        """The un-jittered warm time to first token for a prompt of this many tokens."""
        return max(self.ttft_ms, 1000.0 * prompt_tokens / self.prefill_tok_s)

    def to_args(self) -> list[str]:
        """The ``perfgate sim`` flags that rebuild this profile (the launcher's wire format)."""
        args = [
            "--model",
            self.model,
            "--ttft-ms",
            _num(self.ttft_ms),
            "--tok-s",
            _num(self.tok_s),
            "--prefill-tok-s",
            _num(self.prefill_tok_s),
            "--jitter-cv",
            _num(self.jitter_cv),
            "--load-ms",
            _num(self.load_ms),
            "--ballast-mb",
            str(self.ballast_mb),
        ]
        if self.fault is not None:
            args += ["--fault", self.fault, "--fault-after", str(self.fault_after)]
        args += ["--stall-s", _num(self.stall_s), "--seed", str(self.seed)]
        return args


def _num(value: float) -> str:
    # repr() round-trips exactly through float(), so the child gets the same profile.
    return repr(float(value))
