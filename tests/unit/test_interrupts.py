"""SIGINT and SIGTERM: one exception, raised once, then held; the exit code says which signal it was.

The handler is called directly (no signal is sent): what it does is decided here, not by the machine.
"""

from __future__ import annotations

import signal

import pytest

from perfgate import interrupts
from perfgate.cli import exit_code
from perfgate.commands import Outcome
from perfgate.interrupts import Interrupted


def test_sigterm_is_raised_like_sigint_with_its_own_exit_code():
    with interrupts.handling(), pytest.raises(Interrupted) as info:
        interrupts._on_signal(signal.SIGTERM, None)
    assert isinstance(info.value, KeyboardInterrupt)  # passes every `except Exception`
    assert info.value.exit_code == 143
    assert info.value.signal_name == "SIGTERM"
    assert Interrupted(signal.SIGINT).exit_code == 130


def test_only_the_first_signal_is_raised_and_later_ones_wait():
    with interrupts.handling():
        with pytest.raises(Interrupted):
            interrupts._on_signal(signal.SIGINT, None)
        interrupts._on_signal(signal.SIGINT, None)  # held: the clean-up after the first is not cut short
        interrupts._on_signal(signal.SIGTERM, None)
        assert interrupts.received() == signal.SIGINT


def test_a_signal_while_held_is_raised_on_resume():
    with interrupts.handling():
        interrupts.hold()
        interrupts._on_signal(signal.SIGTERM, None)
        with pytest.raises(Interrupted) as info:
            interrupts.resume()
        assert info.value.signum == signal.SIGTERM


def test_resume_without_a_signal_raises_the_next_one_again():
    with interrupts.handling():
        interrupts.hold()
        interrupts.resume()
        with pytest.raises(Interrupted):
            interrupts._on_signal(signal.SIGINT, None)


def test_the_previous_handlers_come_back_and_nothing_is_remembered():
    before = signal.getsignal(signal.SIGTERM)
    with interrupts.handling():
        assert signal.getsignal(signal.SIGTERM) is interrupts._on_signal
        interrupts.hold()
        interrupts._on_signal(signal.SIGTERM, None)
    assert signal.getsignal(signal.SIGTERM) is before
    assert interrupts.received() is None


def test_a_plain_keyboard_interrupt_is_sigint():
    assert interrupts.signal_of(KeyboardInterrupt()) == signal.SIGINT
    assert interrupts.signal_of(Interrupted(signal.SIGTERM)) == signal.SIGTERM


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_outranks_every_other_exit_code(signum, code):
    assert exit_code(Outcome(could_not_measure=True, interrupted=signum)) == code
