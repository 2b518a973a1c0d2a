"""The worker's results come back in chunks; its progress record says which message is in flight.

A batch longer than one chunk must come back whole and in order (nothing dropped at a chunk
edge, nothing sent twice), and the shared record the parent reads for the time limit must
give back what the child noted: a wrong seq there would blame the wrong sender's message.
"""

from __future__ import annotations

import multiprocessing
import time

from inbox_bot import workers
from inbox_bot.prepare import prepare
from inbox_bot.workers import PreparePool, _Progress
from test_workers import PS, requests


def test_progress_record_reads_back_what_was_noted():
    progress = _Progress(multiprocessing.get_context("spawn").RawArray("q", 4))
    before = time.monotonic()
    progress.note(_Progress.PREPARING, 2**40 + 7)  # seqs beyond 32 bits survive
    phase, what, since = progress.read()
    assert (phase, what) == (_Progress.PREPARING, 2**40 + 7)
    assert before <= since <= time.monotonic()
    progress.note(_Progress.CLASSIFYING, 3)
    assert progress.read()[:2] == (_Progress.CLASSIFYING, 3)
    progress.note(_Progress.IDLE)
    assert progress.read()[:2] == (_Progress.IDLE, 0)


def test_batch_longer_than_a_chunk_comes_back_whole_and_in_order():
    # Two batches, each with a chunk edge inside it (101 and 104 messages for chunks of 100):
    # a result lost or repeated at an edge shows as a wrong pk list.
    items = requests(1, 2 * workers.CHUNK + 5)
    pool = PreparePool(PS, 30, warm_up=False)
    try:
        first, second = pool.submit(items[:workers.CHUNK + 1]), pool.submit(items[workers.CHUNK + 1:])
        got = pool.results(first) + pool.results(second)
    finally:
        pool.close()
    assert [p.pk for p in got] == [item.pk for item in items]
    assert got[workers.CHUNK - 1:workers.CHUNK + 2] == [prepare(item, PS) for item in items[workers.CHUNK - 1:workers.CHUNK + 2]]
