"""ProducerRecorder.scan(): counts and latency arrays derived from the slots."""

from __future__ import annotations

import threading

import numpy as np

from loadgen.recorder import UNSET, ProducerRecorder

MS = 1_000_000  # ns


def _lat(arr) -> list[int]:
    return np.frombuffer(arr, dtype=np.int64).tolist()


def test_out_of_order_acks_are_folded_once_and_per_topic() -> None:
    rec = ProducerRecorder(6, ntopics=3)
    for i in range(4):
        rec.on_sent(i, i * MS, i * MS + 1000)  # 1 µs send delay each
    rec.on_acked(2, 12 * MS)  # the third report arrives first
    rec.scan()
    assert rec.sent_count == 4 and rec.acked_count == 1
    assert rec.topic_counts == [[2, 0, 0], [1, 0, 0], [1, 1, 0]]
    assert _lat(rec.send_delay_done) == [1, 1, 1, 1]
    assert _lat(rec.response_done) == [10_000]
    rec.on_acked(0, 5 * MS)
    rec.on_failed(1)
    rec.on_acked(3, 9 * MS)
    rec.scan()
    rec.scan()  # a second scan with nothing new changes nothing
    assert rec.acked_count == 3 and rec.failed_count == 1
    assert rec.topic_counts == [[2, 2, 0], [1, 0, 1], [1, 1, 0]]
    assert sorted(_lat(rec.service_done)) == [4_999, 5_999, 9_999]
    assert len(rec.response_done) == 3
    # Message 1 failed: its acked slot stays UNSET for the results.
    assert rec.arrays()[2].tolist()[:4] == [5000, UNSET, 12000, 9000]


def test_unset_intended_means_due_when_sent() -> None:
    rec = ProducerRecorder(2)
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
    rec = ProducerRecorder(5)
    rec.on_sent(0, 0, 0)
    rec.on_sent(1, 0, 0)
    rec.scan()
    assert rec.sent_count == 2 and rec.topic_counts == [[2, 0, 0]]
    assert rec.arrays()[1].tolist() == [0, 0, UNSET, UNSET, UNSET]
    assert ProducerRecorder(0).last_ack_us() == 0


def test_scans_from_another_thread_while_recording_count_every_message_once() -> None:
    n = 50_000  # a multiple of 16
    rec = ProducerRecorder(n, ntopics=2)
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
    assert rec.topic_counts == [[n // 2, n // 2, 0], [n // 2, n // 2, 0]]
