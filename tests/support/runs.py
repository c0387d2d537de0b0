"""How many runs a scenario measured, as the rounds decide it (``perfgate.measure.rounds``).

A run measures the runs it was asked for; while most of a scenario's samples are
suspect (perfgate itself starved of CPU, as on a machine with every core busy),
it measures one more in place of each, up to as many again. A test that counts
samples asks for that rule, not for an exact count a loaded machine can change.
"""

from __future__ import annotations

from perfgate.contracts.results import ScenarioResult


def assert_runs(scenario: ScenarioResult, planned: int) -> None:
    """``scenario`` measured ``planned`` runs, plus re-measures only where samples were suspect."""
    count = len(scenario.samples)
    suspect = sum(1 for s in scenario.samples if s.suspect_reason is not None)
    assert planned <= count <= 2 * planned, f"{count} samples for {planned} planned runs"
    assert count == planned or suspect > 0, f"{count} samples for {planned} planned runs, none suspect"
