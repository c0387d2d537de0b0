"""How many runs a scenario measured, as the rounds decide it (``perfgate.measure.rounds``).

A run measures the runs it was asked for; while most of a scenario's samples are
suspect (perfgate itself starved of CPU, as on a machine with every core busy),
it measures one more in place of each, up to as many again. A test that counts
samples asks for that rule, not for an exact count a loaded machine can change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from perfgate.contracts.results import ScenarioResult


def assert_runs(scenario: ScenarioResult, planned: int) -> None:
    """``scenario`` measured ``planned`` runs, plus re-measures only where samples were suspect."""
    count = len(scenario.samples)
    suspect = sum(1 for s in scenario.samples if s.suspect_reason is not None)
    assert planned <= count <= 2 * planned, f"{count} samples for {planned} planned runs"
    assert count == planned or suspect > 0, f"{count} samples for {planned} planned runs, none suspect"


# A run perfgate refuses to time (every sample of a scenario taken while it waited for a CPU, exit 3
# "timing unreliable") is right to refuse on a machine with every core busy; that refusal is tested
# where timing is the subject (tests/integration/test_timing_accuracy.py). A test about something
# else measures again, this many times in all, and any other failure fails at once.
STARVED_ATTEMPTS = 4
R = TypeVar("R")


def refused_as_untimed(code: int, stderr: str) -> bool:
    """``perfgate run`` exited 3 because it could not time the runtime (and for no other reason)."""
    return code == 3 and "perfgate: timing unreliable:" in stderr


def until_timed(run: Callable[[], R], refused: Callable[[R], bool]) -> R:
    """``run()`` again while ``refused`` says perfgate could not time it, at most ``STARVED_ATTEMPTS`` times."""
    for _ in range(STARVED_ATTEMPTS - 1):
        outcome = run()
        if not refused(outcome):
            return outcome
    return run()
