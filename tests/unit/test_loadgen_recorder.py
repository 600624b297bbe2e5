"""ProducerRecorder.scan(): counts and latency arrays derived from the slots."""

from __future__ import annotations

import threading

import numpy as np

from loadgen.payloads import make_value
from loadgen.recorder import UNSET, ProducerRecorder

MS = 1_000_000  # ns


def _lat(arr) -> list[int]:
    return np.frombuffer(arr, dtype=np.int64).tolist()


def test_out_of_order_acks_are_folded_once_and_per_topic() -> None:
    rec = ProducerRecorder(6, ["t0", "t1", "t2"])
    for i in range(4):
        rec.on_sent(i, i * MS, i * MS + 1000)  # 1 µs send delay each
    rec.on_acked(2, 12 * MS)  # the third report arrives first
    rec.scan()
    assert rec.sent_count == 4 and rec.acked_count == 1
    assert rec.topic_counts == {"t0": [2, 0, 0], "t1": [1, 0, 0], "t2": [1, 1, 0]}
    assert _lat(rec.send_delay_done) == [1, 1, 1, 1]
    assert _lat(rec.response_done) == [10_000]
    rec.on_acked(0, 5 * MS)
    rec.on_failed(1)
    rec.on_acked(3, 9 * MS)
    rec.scan()
    rec.scan()  # a second scan with nothing new changes nothing
    assert rec.acked_count == 3 and rec.failed_count == 1
    assert rec.topic_counts == {"t0": [2, 2, 0], "t1": [1, 0, 1], "t2": [1, 1, 0]}
    assert sorted(_lat(rec.service_done)) == [4_999, 5_999, 9_999]
    assert len(rec.response_done) == 3
    # Message 1 failed: its acked slot stays UNSET for the results.
    assert rec.arrays()[2].tolist()[:4] == [5000, UNSET, 12000, 9000]


def test_unset_intended_means_due_when_sent() -> None:
    rec = ProducerRecorder(2, ["t"])
    rec.sent[0] = 3 * MS  # the max-rate loop's single store
    rec.on_sent(1, 3 * MS, 7 * MS)  # a full queue held message 1 back 4 ms
    rec.on_acked(0, 5 * MS)
    rec.on_acked(1, 8 * MS)
    rec.scan()
    assert _lat(rec.send_delay_done) == [0, 4000]
    assert _lat(rec.response_done) == [2000, 5000]
    intended, sent, _ = rec.arrays()
    assert intended.tolist() == [3000, 3000] and sent.tolist() == [3000, 7000]
    assert rec.last_ack_us() == 8000


def test_unsent_slots_are_not_counted() -> None:
    rec = ProducerRecorder(5, ["t"])
    rec.on_sent(0, 0, 0)
    rec.on_sent(1, 0, 0)
    rec.scan()
    assert rec.sent_count == 2 and rec.topic_counts == {"t": [2, 0, 0]}
    assert rec.arrays()[1].tolist() == [0, 0, UNSET, UNSET, UNSET]
    assert ProducerRecorder(0, ["t"]).last_ack_us() == 0


def test_scans_from_another_thread_while_recording_count_every_message_once() -> None:
    n = 50_000  # a multiple of 16
    rec = ProducerRecorder(n, ["t0", "t1"])
    stop = threading.Event()

    def scanner() -> None:
        while not stop.is_set():
            rec.scan()

    t = threading.Thread(target=scanner)
    t.start()
    for block in range(0, n, 16):  # reports of each block of 16 come back reversed
        for i in range(block, block + 16):
            rec.on_sent(i, i * 1000, i * 1000)
        for i in reversed(range(block, block + 16)):
            rec.on_acked(i, i * 1000 + 500_000)
    stop.set()
    t.join()
    rec.scan()
    assert rec.sent_count == n and rec.acked_count == n
    assert len(rec.service_done) == n and len(rec.response_done) == n
    assert rec.topic_counts == {"t0": [n // 2, n // 2, 0], "t1": [n // 2, n // 2, 0]}


class _Msg:
    def __init__(self, seq: int) -> None:
        self._value = make_value(0, seq, 0, b"}")

    def value(self) -> bytes:
        return self._value


def test_reports_read_by_sequence_number_fill_slots_and_count_failures() -> None:
    errors: list[object] = []
    rec = ProducerRecorder(3, ["t"], on_error=errors.append)
    on_delivery = rec.callback_by_seq()
    for i in range(3):
        rec.on_sent(i, 0, 0)
    on_delivery(None, _Msg(2))
    on_delivery("timed out", _Msg(0))
    on_delivery(None, _Msg(1))
    rec.scan()
    assert (rec.acked_count, rec.failed, errors) == (2, [0], ["timed out"])
    assert rec.topic_counts == {"t": [3, 2, 1]}
    assert rec.order is None and rec.violation is None


def test_reports_attributed_by_order_fill_slots_and_count_failures() -> None:
    errors: list[object] = []
    rec = ProducerRecorder(8, ["t"], on_error=errors.append)
    # Cycle of 2 positions, one per partition: partition 0 holds 0, 2, 4, 6.
    callbacks = rec.callbacks_by_order([0, 1], ["t[0]", "t[1]"])
    for i in range(8):
        rec.on_sent(i, 0, i * MS)
    callbacks[0]("timed out", _Msg(2))
    # Each partition has one cycle position, so every report is checked.
    callbacks[0](None, _Msg(0))
    callbacks[0](None, _Msg(4))  # 2 failed: the second success is for 4
    callbacks[1](None, _Msg(1))
    rec.scan()
    assert rec.failed == [2] and errors == ["timed out"]
    acked = rec.arrays()[2]
    assert [i for i in range(8) if acked[i] != UNSET] == [0, 1, 4]
    assert rec.violation is None
    callbacks[0](None, _Msg(4))  # the third success of partition 0 is for 6
    assert rec.violation is not None and "t[0]" in rec.violation
