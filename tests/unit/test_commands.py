"""Helpers shared by the command modules."""

from __future__ import annotations

import gc

import pytest

from perfgate.commands import collector_paused


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_held_off_inside_and_left_as_it_was(enabled: bool) -> None:
    before = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError), collector_paused():
            raise RuntimeError
        assert gc.isenabled() is enabled  # restored on the way out of an error too
    finally:
        (gc.enable if before else gc.disable)()
