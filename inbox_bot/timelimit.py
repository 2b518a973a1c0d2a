"""A time limit for one step of work on one message: parsing, screening or classifying.

A message built to make a parser or a regular expression crawl (a million nested parts, a
pathological header) must not stop the daemon from reading the rest of the mailbox.

How: the work runs in a fresh daemon thread and the caller waits for it with a timeout. We chose
a worker thread over `signal.setitimer` because the daemon runs its passes in APScheduler's worker
thread, and Python delivers signals only to the main thread: an itimer would not interrupt the
pass it is meant to guard. The price is that a thread cannot be killed: a step that overruns is
abandoned, not stopped, and finishes (or not) in the background while the pass moves on. Its
result is thrown away, and the message is quarantined by the caller (`MessageTimeLimit` is a
SenderError), so the same message is not tried again and again, piling up runaway threads.
"""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

from inbox_bot.errors import SenderError

T = TypeVar("T")


class MessageTimeLimit(SenderError):
    """Work on one message took longer than `limits.message_seconds`."""


def run_with_limit(func: Callable[..., T], *args, seconds: float, what: str = "message", **kwargs) -> T:
    """Call func(*args, **kwargs) and return its result, or raise MessageTimeLimit after `seconds`.

    An exception raised by func is re-raised here unchanged. `seconds` <= 0 means no limit.
    """
    if seconds is None or seconds <= 0:
        return func(*args, **kwargs)
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["result"] = func(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as it is
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"limit-{what}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise MessageTimeLimit(f"{what} took longer than {seconds:g} s; abandoned")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]
