"""The one signal guard (kafkaval.signals)."""

import os
import signal
import threading

from kafkaval.signals import stop_on_signals


def test_a_signal_only_calls_the_callback_and_the_old_handler_comes_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    running = threading.Event()
    running.set()
    with stop_on_signals(running.clear):
        os.kill(os.getpid(), signal.SIGTERM)
        assert not running.is_set()
    assert signal.getsignal(signal.SIGTERM) is before


def test_off_the_main_thread_the_block_runs_unguarded() -> None:
    before = signal.getsignal(signal.SIGINT)
    seen: list[object] = []

    def body() -> None:
        with stop_on_signals(lambda: None):
            seen.append(signal.getsignal(signal.SIGINT))

    t = threading.Thread(target=body)
    t.start()
    t.join(5)
    assert seen == [before]
