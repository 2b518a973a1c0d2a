"""A time limit for one step of work on one message: parsing, screening or classifying.

A message built to make a parser or a regular expression crawl (a million nested parts, a
pathological header) must not stop the daemon from reading the rest of the mailbox.

How: the work runs in a worker thread and the caller waits for it with a timeout. We chose a
worker thread over `signal.setitimer` because the daemon runs its passes in APScheduler's worker
thread, and Python delivers signals only to the main thread: an itimer would not interrupt the
pass it is meant to guard. The price is that a thread cannot be killed: a step that overruns is
abandoned, not stopped, and finishes (or not) in the background while the pass moves on. Its
result is thrown away, and the message is quarantined by the caller (`MessageTimeLimit` is a
SenderError), so the same message is not tried again and again, piling up runaway threads.

The worker threads are long-lived and reused: a fresh thread per message made glibc hand out a
new malloc arena to each, which more than doubled the peak RSS over a backlog (547-669 MB
against 279 MB over 1,000 messages). A worker goes back to the idle list only when its job
finished in time; an abandoned one is never handed work again, and a new one takes its place.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, TypeVar

from inbox_bot.errors import SenderError

T = TypeVar("T")


class MessageTimeLimit(SenderError):
    """Work on one message took longer than `limits.message_seconds`."""


class _Job:
    __slots__ = ("func", "args", "kwargs", "done", "result", "error")

    def __init__(self, func, args, kwargs):
        self.func, self.args, self.kwargs = func, args, kwargs
        self.done = threading.Event()
        self.result = None
        self.error: BaseException | None = None


class _Worker:
    """One daemon thread that runs the jobs put in its queue, one at a time."""

    def __init__(self, what: str):
        self.jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name=f"limit-{what}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                job.result = job.func(*job.args, **job.kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as it is
                job.error = exc
            finally:
                job.done.set()
                # Drop the references at once: an idle worker must not keep a message alive.
                job = None  # type: ignore[assignment]


# Workers whose last job ended in time. A caller takes one (or starts one when none is idle,
# e.g. two passes at once or a limited step inside another) and gives it back afterwards.
_idle: list[_Worker] = []
_idle_lock = threading.Lock()


def _take(what: str) -> _Worker:
    with _idle_lock:
        if _idle:
            return _idle.pop()
    return _Worker(what)


def _give_back(worker: _Worker) -> None:
    with _idle_lock:
        _idle.append(worker)


def run_with_limit(func: Callable[..., T], *args, seconds: float, what: str = "message", **kwargs) -> T:
    """Call func(*args, **kwargs) and return its result, or raise MessageTimeLimit after `seconds`.

    An exception raised by func is re-raised here unchanged. `seconds` <= 0 means no limit.
    """
    if seconds is None or seconds <= 0:
        return func(*args, **kwargs)
    worker = _take(what)
    job = _Job(func, args, kwargs)
    worker.jobs.put(job)
    if not job.done.wait(seconds):
        # The worker is stuck in the runaway job: abandoned with it, never reused.
        raise MessageTimeLimit(f"{what} took longer than {seconds:g} s; abandoned")
    _give_back(worker)
    if job.error is not None:
        raise job.error
    return job.result  # type: ignore[return-value]
