"""Stop requests: SIGTERM and SIGINT are recorded (the process goes on to a safe point), a
second Ctrl-C gives up at once, a stop while nothing is unsaved is answered at once, and the
previous handlers come back afterwards."""

import os
import signal
import threading

import jax.numpy as jnp
import pytest

from discovery.signals import Stopped, StopSignals


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 75), (signal.SIGINT, 130)])
def test_a_signal_is_recorded_and_becomes_a_stop_with_its_exit_code(sig, code):
    before = signal.getsignal(sig)
    with StopSignals() as stop:
        stop.raise_if_requested("nothing yet")
        os.kill(os.getpid(), sig)
        assert stop.requested == sig
        with pytest.raises(Stopped) as stopped:
            stop.raise_if_requested("checkpoint 3 holds generation 3/8")
    assert stopped.value.exit_code == code
    assert str(stopped.value) == (f"stopped by {signal.Signals(sig).name}: checkpoint 3 "
                                  "holds generation 3/8")
    assert signal.getsignal(sig) is before


def test_waiting_returns_when_the_result_is_ready():
    with StopSignals() as stop:
        assert stop.wait({"x": jnp.arange(3) * 2})


def test_a_second_ctrl_c_gives_up_at_once():
    with StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested == signal.SIGINT


def test_a_stop_while_nothing_is_unsaved_is_answered_at_once_by_the_watcher():
    heard, got = threading.Event(), []

    def on_idle_stop(stopped):
        got.append(stopped)
        heard.set()

    with StopSignals(on_idle_stop=on_idle_stop) as stop:
        stop.idle("checkpoint 2 holds generation 2/6")
        os.kill(os.getpid(), signal.SIGTERM)
        assert heard.wait(60)
    assert str(got[0]) == "stopped by SIGTERM: checkpoint 2 holds generation 2/6"
    assert got[0].exit_code == 75 and stop.requested == signal.SIGTERM
