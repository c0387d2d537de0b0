"""How a sequential run (``--until-conclusive``) spent its runs and its alpha: the results file's record of it."""

from __future__ import annotations

from typing import NamedTuple

from pydantic import Field

from perfgate.contracts.frozen import Frozen


class ScenarioMetric(NamedTuple):
    """One metric of one scenario. A sequential record names it ``"scenario/metric"`` (``key``)."""

    scenario: str
    metric: str

    @property
    def key(self) -> str:
        return f"{self.scenario}/{self.metric}"

    @classmethod
    def parse(cls, key: str) -> ScenarioMetric:
        # Split at the last "/": metric names never hold one, a scenario name might.
        scenario, _, metric = key.rpartition("/")
        return cls(scenario, metric)


class Look(Frozen):
    """One look of a sequential run: what the gate said after this many runs."""

    index: int = Field(description="1-based look number.")
    alpha: float = Field(description="The share of the gate's alpha this look was tested at.")
    runs: dict[str, int] = Field(description="Measured samples per scenario at this look.")
    verdicts: dict[str, str] = Field(description="'scenario/metric' -> verdict for every gating metric.")
    rerun: tuple[str, ...] = Field(default=(), description="Scenarios given more runs after this look.")


class SequentialRecord(Frozen):
    """How a sequential run spent its runs and its alpha (``--until-conclusive``)."""

    max_looks: int
    batch_runs: int
    rho: float = Field(description="Power-family alpha-spending exponent.")
    looks: tuple[Look, ...]
    confirmed: tuple[str, ...] = Field(default=(), description="'scenario/metric' regressions seen at two looks.")
    stopped: str = Field(
        description=(
            "settled, max_looks, max_runs, max_minutes, out_of_reach (what is left needs more runs than the "
            "budget allows, or a larger baseline), failure, no_baseline or error."
        )
    )
    error: str | None = Field(default=None, description="Why a look could not be decided, when stopped is 'error'.")

    @property
    def confirmed_metrics(self) -> tuple[ScenarioMetric, ...]:
        """``confirmed``, each key split into its scenario and metric."""
        return tuple(ScenarioMetric.parse(key) for key in self.confirmed)
