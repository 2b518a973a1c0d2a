"""A child process that runs the prepare step (parse, screen, thread keys) beside the pipeline.

On a 2-core machine the pipeline does its database work in one thread; `prepare()` is pure and
takes plain picklable values (inbox_bot.prepare), so a child process can prepare batch N+1 while
the parent applies batch N (issue #7).

How it works:
- One child, started lazily with the "spawn" start method: the daemon has other threads (IMAP
  IDLE, APScheduler), and a forked copy of a process with threads can inherit a lock held by a
  thread that no longer exists and hang on it.
- The parent keeps every submitted item until its result has arrived (`_pending`): that list,
  not the child, is the truth. When a child is replaced, everything still pending is sent to
  the new one, in order, so nothing is lost and nothing is returned twice.
- The child notes in a small shared record (`_Progress`) which message it is preparing and
  since when, before each message, so the parent knows which message is in flight without a
  message on the pipe. Its clock starts when the child finished its previous one (or became
  ready, or was given the item, whichever is last): the child's start-up time and the parent's
  own busy time are never charged to a message. Both sides read the same system-wide monotonic
  clock (CLOCK_MONOTONIC).
- The results come back in order, in chunks (at most `CHUNK` messages, and always at the end of
  each batch handed over), not one pipe message per message: one write, one wake-up of the
  parent's reader and one event instead of a hundred. A result still in the child when it is
  killed or dies is simply prepared again by the next child, like the rest of what is pending.
- A message that overruns the limit gets `MessageTimeLimit` (a SenderError: quarantined, not
  retried) and the child is killed with SIGKILL: unlike the thread in inbox_bot.timelimit, a
  process can really be stopped, so a runaway parse costs no CPU and no memory afterwards.
- A child that dies by itself costs the message in flight a `WorkerFault` (a SystemFault: ours,
  retried later). Each death costs exactly one message, so a message that kills every child
  it meets cannot stall the pool: it is failed, and the caller's attempt count parks it.
- With `classify_with`, the child also classifies the requests of each batch it was handed,
  in one vectorised pass after the batch's results are sent (one message at a time the model
  costs ten times as much). Its record says "classifying n" meanwhile, so that the pass runs
  on a clock of its own (the limit times n) and never on a message's; a pass that fails,
  overruns or dies with the child leaves those messages unclassified, and the parent
  classifies them itself.
- Two helper threads per child in the parent: a feeder that writes batches to the child (so
  submit() never blocks on a full pipe while the child is busy) and a reader that takes
  results off the pipe as they come (so the child never stalls on a full pipe while the
  parent does database work, which is the whole point of the overlap).

A spawned child imports the parent's main script unless it is a package's `__main__` (as with
`python -m inbox_bot`) or an installed console script; any other script that creates a pool
must keep its work under `if __name__ == "__main__":`, or the child runs the script again
and dies before it is ready (each batch then comes back as WorkerFault).

Logs carry counts, pks, exit codes and exception types; never addresses or message text.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
import weakref
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Callable, Sequence

from inbox_bot.config import ClassifierSettings
from inbox_bot.errors import SystemFault
from inbox_bot.prepare import Prepared, PrepareSettings, Recorded
from inbox_bot.timelimit import MessageTimeLimit
from inbox_bot.values import Classification

log = logging.getLogger(__name__)

# A child that has not reported ready in this time is taken for broken. Start-up is an
# interpreter plus the parsing modules: well under a second when the machine is idle.
START_SECONDS = 60.0
# How often a waiting parent checks that the child is still alive, in case its death was not
# seen as an end of file on the result pipe (e.g. a copy of the pipe's write end leaked).
LIVENESS_SECONDS = 1.0
# The most results the child holds before sending them: a batch's results are collected together
# anyway, and a chunk of 100 is ~250 KB pickled, so larger batches still come back as they go.
CHUNK = 100


class WorkerFault(SystemFault):
    """The worker process died, could not start or was closed before a message was prepared."""


class UnsendableError(SystemFault):
    """prepare() raised an exception that cannot be sent back from the worker process."""


class _Progress:
    """What the child is doing now, in four shared 64-bit slots: written by the child, read by the parent.

    Slots: a version (odd while the child writes), the phase (IDLE, PREPARING, CLASSIFYING),
    its argument (the message's seq, or the number of requests being classified) and when the
    phase began (time.monotonic_ns). The version lets the parent read the three as one: a
    deadline computed from one message's seq and the previous message's start would blame the
    wrong message.
    """

    IDLE, PREPARING, CLASSIFYING = 0, 1, 2

    def __init__(self, array):
        self.array = array  # the ctypes array, handed to the child at its start
        self._slots = memoryview(array).cast("B").cast("q")

    def note(self, phase: int, what: int = 0) -> None:
        slots = self._slots
        slots[0] += 1
        slots[1] = phase
        slots[2] = what
        slots[3] = time.monotonic_ns()
        slots[0] += 1

    def read(self) -> tuple[int, int, float]:
        """(phase, argument, since as time.monotonic()); consistent unless the writer died mid-write."""
        slots = self._slots
        for _ in range(10_000):
            version = slots[0]
            if not version & 1:
                phase, what, since = slots[1], slots[2], slots[3]
                if slots[0] == version:
                    return phase, what, since / 1e9
        # A child killed between its two version bumps leaves the version odd for good.
        return slots[1], slots[2], slots[3] / 1e9


@dataclass(frozen=True)
class Batch:
    """A ticket for items submitted together; hand it to PreparePool.results()."""

    pool: int  # id() of the pool that issued it
    seqs: tuple[int, ...]


class _Child:
    """One worker process and the parent's two threads that talk to it."""

    def __init__(self, ctx, generation: int, ps: PrepareSettings, events: queue.SimpleQueue, warm_up: bool,
                 hook: str | None, classify_with: ClassifierSettings | None):
        self.generation = generation
        self.ready = False
        jobs_r, self.jobs_w = ctx.Pipe(duplex=False)
        self.results_r, results_w = ctx.Pipe(duplex=False)
        self.progress = _Progress(ctx.RawArray("q", 4))
        self.process = ctx.Process(
            target=_child_main, args=(jobs_r, results_w, ps, warm_up, hook, classify_with, self.progress.array),
            name="inbox-bot-prepare", daemon=True,
        )
        self.process.start()
        self.started_at = time.monotonic()
        # Our copies of the child's ends must go: otherwise the child's death is not an end of
        # file for the reader, nor a broken pipe for the feeder, and both would wait forever.
        jobs_r.close()
        results_w.close()
        self.outbox: queue.SimpleQueue = queue.SimpleQueue()
        self.feeder = threading.Thread(target=self._feed, name="prepare-feeder", daemon=True)
        self.reader = threading.Thread(target=self._read, args=(events,), name="prepare-reader", daemon=True)
        self.feeder.start()
        self.reader.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def send(self, jobs: list[tuple[int, Recorded]]) -> None:
        self.outbox.put(jobs)

    def _feed(self) -> None:
        while True:
            jobs = self.outbox.get()
            if jobs is None:
                return
            try:
                self.jobs_w.send(jobs)
            except (OSError, ValueError):
                return  # the child is gone; the parent notices through the reader and re-sends
            jobs = None  # an idle feeder must not keep a batch of raw messages alive

    def _read(self, events: queue.SimpleQueue) -> None:
        while True:
            try:
                message = self.results_r.recv()
            except (EOFError, OSError):
                events.put((self.generation, time.monotonic(), ("died",)))
                return
            except Exception as exc:  # noqa: BLE001 - a result the parent cannot load: treat as a death
                log.error("worker result could not be loaded (%s)", type(exc).__name__)
                events.put((self.generation, time.monotonic(), ("died",)))
                return
            events.put((self.generation, time.monotonic(), message))

    def stop(self) -> int | None:
        """Kill the process and wind down the threads; returns the exit code."""
        self.outbox.put(None)
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        code = self.process.exitcode
        # Once the process is dead, the feeder's write fails and the reader reads an end of
        # file: both threads end by themselves. A connection is closed only after its thread
        # ended, so no thread is left blocked on a closed descriptor.
        self.feeder.join(2)
        self.reader.join(2)
        if not self.feeder.is_alive():
            self.jobs_w.close()
        if not self.reader.is_alive():
            self.results_r.close()
        if code is not None:
            self.process.close()
        return code


class PreparePool:
    """One child process that runs prepare() on batches, with a time limit per message.

    Use from one thread at a time: submit(), results() and close() share unguarded state. Every
    submitted batch should be collected with results() (or the pool closed): results wait in the
    parent until then. `seconds` <= 0 means no limit.

    `warm_up` (default True): each child loads the language detectors before it takes work
    (~2 s, ~370 MB), so that their load is never charged to a message's time limit; False
    leaves them lazy, for mail known not to need them. `classify_with`: the child classifies
    the requests too (see `results_classified`); it loads the model before taking work.
    `_hook_for_tests` is for tests only: a
    "module:function" the child calls with each Recorded before prepare(), to make it hang or stall.
    """

    def __init__(self, ps: PrepareSettings, seconds: float, *, warm_up: bool = True,
                 classify_with: ClassifierSettings | None = None, _hook_for_tests: str | None = None):
        self.ps = ps
        self.classify_with = classify_with
        self.seconds = seconds if seconds and seconds > 0 else 0.0
        self._warm_up = warm_up
        self._hook = _hook_for_tests
        self._ctx = multiprocessing.get_context("spawn")
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._seq = itertools.count()
        self._generations = itertools.count(1)
        self._pending: dict[int, Recorded] = {}  # in seq order: dicts keep insertion order
        self._given_at: dict[int, float] = {}  # when the current child was handed the item
        self._done: dict[int, Prepared | BaseException] = {}
        self._awaiting: set[int] = set()  # requests prepared, their classification still to come
        self._classes: dict[int, Classification] = {}  # the child's classifications, until collected
        self._closed = False
        # A one-element list shared with the finaliser, so that closing at interpreter exit
        # does not keep the pool itself alive.
        self._child_box: list[_Child | None] = [None]
        self._finalizer = weakref.finalize(self, _stop_boxed, self._child_box)

    # -- the interface -------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The current child's process id, or None when no child runs."""
        child = self._child_box[0]
        return child.pid if child is not None else None

    def start(self, wait: bool = False) -> int | None:
        """Start the child now rather than at the first submit; its pid, or None if it failed.

        `wait`: return only once the child is ready (its warm-up done), as a benchmark wants.
        """
        if self._closed:
            raise RuntimeError("PreparePool is closed")
        if self._child_box[0] is None:
            self._start()
        nothing = Batch(id(self), ())
        while wait and self._child_box[0] is not None and not self._child_box[0].ready:
            self._step(nothing)
        return self.pid

    def submit(self, items: Sequence[Recorded]) -> Batch:
        """Hand items to the child; returns at once."""
        if self._closed:
            raise RuntimeError("PreparePool is closed")
        now = time.monotonic()
        jobs = [(next(self._seq), item) for item in items]
        for seq, item in jobs:
            self._pending[seq] = item
            self._given_at[seq] = now
        child = self._child_box[0]
        if child is None:
            if jobs:
                self._start()  # sends everything pending, these included
        elif jobs:
            child.send(jobs)
        return Batch(id(self), tuple(seq for seq, _ in jobs))

    def results(self, batch: Batch) -> list[Prepared | BaseException]:
        """Wait for a batch; one result per item, in item order: a Prepared or the exception."""
        return [result for result, _ in self.results_classified(batch)]

    def results_classified(self, batch: Batch) -> list[tuple[Prepared | BaseException, Classification | None]]:
        """Like `results`, each with the request's classification when the child made it.

        None for what is not a request, and for a request the child could not classify (no
        `classify_with`, or its pass failed, overran or died): the caller classifies those.
        """
        if batch.pool != id(self):
            raise ValueError("batch was submitted to another pool")
        for seq in batch.seqs:
            if seq not in self._done and seq not in self._pending:
                raise ValueError("batch was already collected")
        while any(seq in self._pending or seq in self._awaiting for seq in batch.seqs):
            if self._closed:
                for seq in batch.seqs:
                    if seq in self._pending:
                        self._fail(seq, WorkerFault(f"the worker pool was closed before message #{self._pending[seq].pk} was prepared"))
                self._give_up_classes()
                break
            self._step(batch)
        return [(self._done.pop(seq), self._classes.pop(seq, None)) for seq in batch.seqs]

    def close(self) -> None:
        """Stop the child. Idempotent; also run at interpreter exit."""
        self._closed = True
        self._finalizer()

    # -- the machinery -------------------------------------------------------------------------
    def _start(self) -> None:
        child = _Child(self._ctx, next(self._generations), self.ps, self._events, self._warm_up, self._hook,
                       self.classify_with)
        self._child_box[0] = child
        now = time.monotonic()
        jobs = list(self._pending.items())
        for seq, _ in jobs:
            self._given_at[seq] = now
        if jobs:
            child.send(jobs)
        log.debug("worker process %d started, %d messages pending", child.pid, len(jobs))

    def _stop(self) -> int | None:
        child, self._child_box[0] = self._child_box[0], None
        # A new child is not given finished messages again: their classification falls to us.
        self._give_up_classes()
        return child.stop() if child is not None else None

    def _give_up_classes(self) -> None:
        # Left unclassified: results_classified gives None for them, and the caller classifies.
        self._awaiting.clear()

    def _fail(self, seq: int, exc: BaseException) -> None:
        self._pending.pop(seq, None)
        self._given_at.pop(seq, None)
        self._done[seq] = exc

    def _deadline(self, child: _Child) -> float | None:
        if not child.ready:
            return child.started_at + START_SECONDS
        if not self.seconds:
            return None
        phase, what, since = child.progress.read()
        if phase == _Progress.CLASSIFYING:
            return since + self.seconds * max(1, what)
        if phase == _Progress.PREPARING and what in self._pending:
            return self._deadline_of(what, since)
        return None  # idle, or the message noted is done and its result on its way

    def _deadline_of(self, seq: int, since: float) -> float:
        return max(since, self._given_at[seq]) + self.seconds

    def _step(self, batch: Batch) -> None:
        """Wait for one event from the child (or its deadline) and act on it."""
        child = self._child_box[0]
        if child is None:
            self._start()
            child = self._child_box[0]
        deadline = self._deadline(child)
        wait = LIVENESS_SECONDS if deadline is None else min(LIVENESS_SECONDS, max(0.0, deadline - time.monotonic()))
        try:
            generation, _, message = self._events.get(timeout=wait)
        except queue.Empty:
            # The record may have moved on while we waited: the deadline is read again.
            deadline = self._deadline(child)
            if deadline is not None and time.monotonic() >= deadline:
                self._overran(child, batch)
            elif not child.process.is_alive():
                self._died(child, batch)
            return
        if generation != child.generation:
            return  # from a child already replaced: its work was re-sent
        kind = message[0]
        if kind == "results":
            pending, given_at, done = self._pending, self._given_at, self._done
            classifying = self.classify_with is not None
            for seq, ok, value in message[1]:
                if seq in pending:
                    del pending[seq]
                    given_at.pop(seq, None)
                    done[seq] = value
                    if ok and classifying and value.screen.is_request:
                        self._awaiting.add(seq)
        elif kind == "ready":
            child.ready = True
        elif kind == "classified":
            _, found, error = message
            if error:
                log.warning("classification in the worker process failed (%s); %d requests classified here", error, len(found))
            for seq, classification in found:
                if seq in self._awaiting:
                    self._awaiting.discard(seq)
                    if classification is not None:
                        self._classes[seq] = classification
        elif kind == "died":
            self._died(child, batch)

    def _overran(self, child: _Child, batch: Batch) -> None:
        if not child.ready:
            code = self._stop()
            self._fail_start(batch, f"the worker process did not start within {START_SECONDS:g} s (exit code {code})")
            return
        self._stop()
        # Read once the child is dead: what it was doing when killed, not a moment before.
        phase, what, since = child.progress.read()
        if phase == _Progress.CLASSIFYING:
            # No message is to blame for a slow model: the requests are classified here instead.
            log.warning("classifying %d requests took longer than %g s each; worker process killed", what, self.seconds)
        elif phase == _Progress.PREPARING and what in self._pending and time.monotonic() >= self._deadline_of(what, since):
            self._time_limit(what)
        # else the child moved on between our reading and the kill: nobody is blamed, the
        # pending messages are simply prepared again by the next child.
        if self._pending:
            self._start()

    def _time_limit(self, seq: int) -> None:
        pk = self._pending[seq].pk
        log.warning("message #%d: prepare took longer than %g s; worker process killed", pk, self.seconds)
        self._fail(seq, MessageTimeLimit(f"parsing message #{pk} took longer than {self.seconds:g} s; stopped"))

    def _died(self, child: _Child, batch: Batch) -> None:
        code = self._stop()
        if not child.ready:
            self._fail_start(batch, f"the worker process exited before it was ready (exit code {code})")
            return
        phase, what, _ = child.progress.read()
        if phase == _Progress.CLASSIFYING or not self._pending:
            # A classification pass that dies leaves its requests to us (given up in _stop).
            log.warning("worker process exited with no message in flight (exit code %s)", code)
            if self._pending:
                self._start()
            return
        # The message noted, or else the first pending one: a child that dies between messages
        # (say, reading a batch) must still cost one, or a batch that kills every child would
        # stall the pool.
        seq = what if phase == _Progress.PREPARING and what in self._pending else next(iter(self._pending))
        pk = self._pending[seq].pk
        log.error("worker process died while preparing message #%d (exit code %s); restarting it", pk, code)
        self._fail(seq, WorkerFault(f"the worker process died while preparing message #{pk} (exit code {code})"))
        if self._pending:
            self._start()

    def _fail_start(self, batch: Batch, why: str) -> None:
        # A child that cannot start is not any one message's fault. The batch being collected
        # fails as a whole (a SystemFault: retried later) rather than one start per message;
        # other batches stay pending and get a fresh child when they are collected.
        failed = [seq for seq in batch.seqs if seq in self._pending]
        log.error("%s; %d messages left for a later attempt", why, len(failed))
        for seq in failed:
            self._fail(seq, WorkerFault(why))


def _stop_boxed(box: list) -> None:
    child, box[0] = box[0], None
    if child is not None:
        child.stop()


# -- the child's side ------------------------------------------------------------------------------
def _child_main(jobs_r, results_w, ps: PrepareSettings, warm_up: bool, hook: str | None,
                classify_with: ClassifierSettings | None, progress_array) -> None:
    # Ctrl-C reaches the whole process group; the parent decides when its child ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    if warm_up:
        _warm_up(ps)
    if classify_with is not None:
        from inbox_bot import classify

        # Loaded before "ready": never on a message's clock. So are the feature tables the
        # first prediction builds (~0.2 s, ~100 MB): only here, where batches are classified,
        # not in the main process, which classifies only when this process could not.
        model = classify.model_for(classify_with)
        try:
            model.predict_many([("", "warm-up")], own_text=True)
        except Exception:  # noqa: BLE001 - a batch's pass fails the same way, and the parent classifies those
            log.warning("the classifier's warm-up prediction failed")
    from inbox_bot.prepare import prepare

    before: Callable[[Recorded], None] | None = None
    if hook:
        module, _, name = hook.partition(":")
        before = getattr(importlib.import_module(module), name)
    from inbox_bot import gctune

    progress = _Progress(progress_array)
    progress.note(_Progress.IDLE)
    gctune.settle_after_start()  # the detectors and the model are loaded: frozen, never scanned
    results_w.send(("ready", os.getpid()))
    while True:
        try:
            jobs = jobs_r.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if jobs is None:
            return
        jobs.reverse()  # popped from the end, so in order, and each item dropped once done
        chunk: list[tuple[int, bool, object]] = []
        while jobs:
            seq, item = jobs.pop()
            progress.note(_Progress.PREPARING, seq)
            try:
                if before is not None:
                    before(item)
                value, ok = prepare(item, ps), True
            except Exception as exc:  # noqa: BLE001 - the message's result, sent to the parent
                value, ok = _sendable(exc), False
            item = None
            chunk.append((seq, ok, value))
            value = None
            if len(chunk) >= CHUNK or not jobs:
                # Sent on the clock of the chunk's last message, still noted as in flight: a
                # result that would not pickle in time costs that message, as when each result
                # went alone, and never stalls the pool with no clock running.
                if not _send_results(results_w, chunk):
                    return  # the parent is gone
                if classify_with is not None:
                    requests = [(seq, value.mail) for seq, ok, value in chunk if ok and value.screen.is_request]
                    if requests and not _send_classes(results_w, classify_with, requests, progress):
                        return  # the parent is gone
                chunk = []
                if not jobs:
                    progress.note(_Progress.IDLE)


def _send_results(results_w, chunk: list) -> bool:
    """Send a chunk of results in one message; False if the parent is gone.

    A result that cannot be pickled is sent as an UnsendableError in its place (and marked not
    ok in `chunk`, so that it is not classified): the rest of the chunk still crosses.
    """
    try:
        results_w.send(("results", chunk))
        return True
    except OSError:
        return False
    except Exception:  # noqa: BLE001 - pickling failed before anything was written: find the culprits
        pass
    for i, (seq, ok, value) in enumerate(chunk):
        try:
            ForkingPickler.dumps(value)
        except Exception as exc:  # noqa: BLE001 - this one cannot cross
            what = "the prepared message" if ok else f"prepare's {type(value).__name__}"
            chunk[i] = (seq, False, UnsendableError(
                f"{what} could not be sent back from the worker process ({type(exc).__name__})"))
    try:
        results_w.send(("results", chunk))
    except OSError:
        return False
    return True


def _send_classes(results_w, classify_with: ClassifierSettings, requests: list, progress: _Progress) -> bool:
    """Classify a chunk's requests in one pass and send the results; False if the parent is gone."""
    from inbox_bot import classify

    progress.note(_Progress.CLASSIFYING, len(requests))
    try:
        try:
            found = classify.classify_mails(classify_with, [mail for _, mail in requests])
            message = ("classified", [(seq, c) for (seq, _), c in zip(requests, found)], None)
        except Exception as exc:  # noqa: BLE001 - the parent classifies them: a model fault is not the mail's
            message = ("classified", [(seq, None) for seq, _ in requests], type(exc).__name__)
        results_w.send(message)
    except OSError:
        return False
    return True


# Parsed once at start-up so that the first batch does not pay for the parser's, screening's
# and html2text's first use (imports, compiled patterns): that batch took twice the others.
_WARM_UP_MAIL = (
    b"From: Jan Kowalski <jan@example.com>\r\nTo: iodo@example.com\r\nSubject: =?utf-8?q?Pro=C5=9Bba?=\r\n"
    b"Message-ID: <warm-up@example.com>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
    b'Content-Type: multipart/alternative; boundary="b2"\r\n\r\n--b2\r\n'
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Prosz=C4=99 o usuni=C4=99cie moich danych.\r\n\r\n> Dnia 1.11.2026 napisa=C5=82:\r\n> cytat\r\n--b2\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Prosz\xc4\x99 o usuni\xc4\x99cie moich danych.</p>\r\n--b2--\r\n"
    b'--b1\r\nContent-Type: application/pdf; name="a.pdf"\r\nContent-Disposition: attachment; filename="a.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n"
)


def _warm_up(ps: PrepareSettings) -> None:
    """Load what the first messages would otherwise load on their own clock, before reporting ready.

    The language detectors are built lazily on first use, and the short-text one takes ~2 s and
    ~370 MB (classifiers.language). Left lazy, every new child would charge that to whichever
    message first needed it: with a limit of a few seconds, an innocent message would be
    quarantined as a MessageTimeLimit after each restart.
    """
    from datetime import datetime, timezone

    from classifiers.language import warm_up
    from inbox_bot.prepare import prepare

    warm_up()
    try:
        # prepare() imports the parser, screening and thread keys on its first call as well.
        prepare(Recorded(0, None, None, datetime.now(timezone.utc), _WARM_UP_MAIL), ps)
    except Exception:  # noqa: BLE001 - only a warm-up: the worker must start whatever the sample does
        log.warning("preparing the warm-up sample failed; the first batch will load what it needs")


def _sendable(exc: Exception) -> BaseException:
    """The exception itself if it survives the pipe as the same class, else an UnsendableError."""
    try:
        if type(pickle.loads(pickle.dumps(exc))) is type(exc):
            return exc
    except Exception:  # noqa: BLE001 - any failure to round-trip means it cannot be sent
        pass
    kind = type(exc)
    return UnsendableError(f"prepare raised {kind.__module__}.{kind.__qualname__}, which could not be sent back from the worker process")


def _exit_with_parent(parent: int) -> None:
    # A child stuck in a runaway parse does not read its pipe, so it would not notice the
    # parent's death and would burn a core as an orphan.
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)
