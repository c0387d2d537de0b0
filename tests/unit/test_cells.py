"""Numbers in tables (``perfgate.render.cells.fmt_number``): three significant figures, whatever rounding does."""

from __future__ import annotations

import numpy as np
import pytest

from perfgate.render.cells import fmt_number


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (9.99, "9.99"),
        (9.996, "10.0"),
        (10.0, "10.0"),
        (99.94, "99.9"),
        (99.96, "100"),
        (1234.5, "1,234"),
        (0.5, "0.50"),
    ],
)
def test_known_values(value: float, shown: str) -> None:
    assert fmt_number(value) == shown


def test_never_more_than_three_significant_figures_below_a_thousand() -> None:
    """Issue seen in a PR comment: 9.996 ms was shown as "10.00 ms" beside "10.0 ms"."""
    for value in np.random.default_rng(4).uniform(0.1, 999.0, 20_000):
        digits = fmt_number(float(value)).replace(",", "").replace(".", "").lstrip("0")
        assert len(digits) <= 3, (value, fmt_number(float(value)))
