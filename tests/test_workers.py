"""The prepare worker process (inbox_bot.workers): real child processes, small literal messages.

The child imports this module by name to find the test-only hook below, so the module keeps its
imports light (no helpers, no database): each import costs every child start.
"""

from __future__ import annotations

import email.policy
import os
import signal
import time
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest

from inbox_bot import config as config_mod
from inbox_bot.errors import SenderError, SystemFault
from inbox_bot.prepare import PrepareSettings, Recorded, prepare
from inbox_bot.timelimit import MessageTimeLimit
from inbox_bot.workers import PreparePool, UnsendableError, WorkerFault

PS = PrepareSettings.from_settings(config_mod.from_dict({"organisation": dict(config_mod.DEFAULT_ORGANISATION)}, "<test>"))
HOOK = f"{__name__}:behave_as_marked"
STALL_FILE_ENV = "INBOX_BOT_TEST_WORKER_STALL_FILE"
RECEIVED = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)


class TwoArgumentError(Exception):
    """Pickles but cannot be unpickled: unpickling calls it with one argument."""

    def __init__(self, what, extra):
        super().__init__(what)
        self.extra = extra


def behave_as_marked(item: Recorded) -> None:
    """Test-only hook, run by the child before prepare(): a header picks the misbehaviour."""
    if b"X-Test-Worker: hang" in item.raw:
        time.sleep(3600)
    if b"X-Test-Worker: stall" in item.raw:
        Path(os.environ[STALL_FILE_ENV]).write_text(str(os.getpid()))
        time.sleep(3600)
    if b"X-Test-Worker: unsendable" in item.raw:
        raise TwoArgumentError("cannot cross", "the pipe")


def mail(pk: int, subject: str, body: str, sender: str = "jan.kowalski@example.pl", **headers) -> Recorded:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = "iodo@optingo.eu"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<m{pk}@example.pl>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return Recorded(pk=pk, uid=100 + pk, uidvalidity=7, received_at=RECEIVED, raw=msg.as_bytes())


def requests(first_pk: int, n: int) -> list[Recorded]:
    bodies = [
        ("Usunięcie danych", "Proszę o usunięcie moich danych osobowych z Państwa bazy."),
        ("Access request", "Please send me a copy of all personal data you hold about me, together with "
                           "the purposes of processing and the recipients it was disclosed to."),
        ("Re: newsletter", "Nie chcę więcej dostawać newslettera, proszę mnie wypisać."),
    ]
    return [mail(first_pk + i, *bodies[i % len(bodies)]) for i in range(n)]


def marked(pk: int, behaviour: str) -> Recorded:
    return mail(pk, "Zapytanie", "Proszę o informację, jakie dane przetwarzacie.", X_Test_Worker=behaviour)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def pool_factory():
    pools: list[PreparePool] = []

    def make(seconds: float, warm_up: bool = False) -> PreparePool:
        # Without the warm-up a child starts in a fraction of a second; the messages below are
        # Polish with Polish letters or longer than 120 characters, so they never need the
        # short-text language detector that the warm-up exists for.
        pool = PreparePool(PS, seconds, warm_up=warm_up, _hook_for_tests=HOOK)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


def test_results_equal_inline_prepare_in_order_over_two_batches(pool_factory):
    # Guards against results crossing between batches or arriving out of order when the caller
    # submits batch N+1 before collecting N, and against anything lost in pickling (Prepared is
    # compared whole: mail, screen verdict and thread keys).
    robot = mail(5, "Out of office", "I am out of the office until Monday 10 March with limited access to email. "
                 "For urgent matters please contact the front desk.", sender="anna@example.com", Auto_Submitted="auto-replied")
    first = requests(1, 4) + [robot]
    second = requests(6, 3)
    pool = pool_factory(seconds=10, warm_up=True)  # the default start, once
    one, two = pool.submit(first), pool.submit(second)
    got_two, got_one = pool.results(two), pool.results(one)
    assert [p.pk for p in got_one] == [1, 2, 3, 4, 5]
    assert got_one == [prepare(item, PS) for item in first]
    assert got_two == [prepare(item, PS) for item in second]
    assert got_one[0].mail.subject == "Usunięcie danych" and got_one[0].mail.language == "pl"
    assert got_one[1].mail.language == "en"
    assert got_one[4].screen.verdict == "auto_reply" and got_one[0].screen.is_request


def test_unparseable_message_comes_back_as_the_same_sender_error(pool_factory):
    # Guards against a sender's broken mail turning into our fault (retried forever) on its way
    # back from the child: it must stay a SenderError, so the caller quarantines it.
    empty = Recorded(pk=1, uid=1, uidvalidity=7, received_at=RECEIVED, raw=b"")
    with pytest.raises(SenderError) as inline:
        prepare(empty, PS)
    pool = pool_factory(seconds=10)
    [result, after] = pool.results(pool.submit([empty, requests(2, 1)[0]]))
    assert type(result) is type(inline.value) and str(result) == str(inline.value)
    assert after.pk == 2 and after.mail.subject == "Usunięcie danych"


def test_exception_that_cannot_cross_the_pipe_becomes_a_system_fault_naming_its_type(pool_factory):
    # Guards against an exception that unpickles badly killing the reader or losing the message.
    pool = pool_factory(seconds=10)
    [result, after] = pool.results(pool.submit([marked(1, "unsendable"), requests(2, 1)[0]]))
    assert isinstance(result, UnsendableError) and isinstance(result, SystemFault)
    assert "TwoArgumentError" in str(result)
    assert after.pk == 2


def test_message_that_hangs_gets_the_time_limit_and_the_child_is_replaced(pool_factory):
    # Guards against a runaway parse holding up the mailbox, and against the messages queued
    # behind it (same batch and the next) being lost or done twice after the restart.
    first = requests(1, 2) + [marked(3, "hang")] + requests(4, 2)
    second = requests(6, 2)
    pool = pool_factory(seconds=1.0)
    one, two = pool.submit(first), pool.submit(second)
    hung_pid = pool.pid
    got = pool.results(one)
    assert isinstance(got[2], MessageTimeLimit) and isinstance(got[2], SenderError)
    assert "#3" in str(got[2])
    assert [p.pk for p in got[:2] + got[3:]] == [1, 2, 4, 5]
    assert got[3:] == [prepare(item, PS) for item in first[3:]]
    assert pool.results(two) == [prepare(item, PS) for item in second]
    assert pool.pid is not None and pool.pid != hung_pid
    assert not pid_alive(hung_pid)


def test_child_killed_from_outside_costs_only_the_message_in_flight(pool_factory, tmp_path, monkeypatch):
    # Guards against a crash (OOM killer, an operator's kill) losing the batch or blaming the
    # sender: the message in flight gets a SystemFault (retried), the rest are prepared.
    stall_file = tmp_path / "stalled-pid"
    monkeypatch.setenv(STALL_FILE_ENV, str(stall_file))
    first = requests(1, 1) + [marked(2, "stall")] + requests(3, 2)
    second = requests(5, 1)
    pool = pool_factory(seconds=30)
    one, two = pool.submit(first), pool.submit(second)
    for _ in range(200):
        if stall_file.exists() and stall_file.read_text():
            break
        time.sleep(0.05)
    victim = int(stall_file.read_text())
    assert victim == pool.pid
    os.kill(victim, signal.SIGKILL)
    got = pool.results(one)
    assert isinstance(got[1], WorkerFault) and isinstance(got[1], SystemFault)
    assert not isinstance(got[1], SenderError)
    assert got[0] == prepare(first[0], PS) and got[2:] == [prepare(item, PS) for item in first[2:]]
    assert pool.results(two) == [prepare(second[0], PS)]
    assert pool.pid != victim


def test_close_leaves_no_child_and_is_idempotent(pool_factory):
    # Guards against an orphaned child after the daemon stops, and against a second close()
    # (explicit, then at interpreter exit) raising.
    pool = pool_factory(seconds=0)  # no limit: the path without a deadline
    assert pool.pid is None  # started lazily, not in the constructor
    [result] = pool.results(pool.submit(requests(1, 1)))
    assert result.pk == 1
    pid = pool.pid
    assert pid is not None and pid_alive(pid)
    pool.close()
    pool.close()
    assert pool.pid is None and not pid_alive(pid)
    with pytest.raises(RuntimeError):
        pool.submit(requests(2, 1))


def test_batches_left_uncollected_at_close_come_back_as_system_faults(pool_factory):
    # Guards against results() hanging forever, or pretending success, for work cut off by close().
    pool = pool_factory(seconds=1.0)
    batch = pool.submit([marked(1, "hang")])
    pool.close()
    [result] = pool.results(batch)
    assert isinstance(result, WorkerFault)


def test_start_waits_until_the_child_is_ready_and_is_then_used():
    # A daemon or a benchmark starts the worker before the first backlog: the first batch must
    # then go to that child, not wait for another start.
    pool = PreparePool(PS, seconds=30, warm_up=False)
    try:
        pid = pool.start(wait=True)
        assert pid is not None and pid_alive(pid)
        (result,) = pool.results(pool.submit(requests(1, 1)))
        assert result.mail.sender == "jan.kowalski@example.pl" and pool.pid == pid
    finally:
        pool.close()
    assert pool.pid is None and not pid_alive(pid)


def test_child_classifies_each_batch_of_requests_as_the_parent_would(classifier_ready):
    # Guards against classifications crossing between messages or batches on their way back
    # (each must be the one the parent's own model gives that message), and against robots
    # being classified at all.
    from inbox_bot.classify import classify_mails

    cs = config_mod.ClassifierSettings(model_dir=os.environ["INBOX_BOT_MODEL_DIR"])
    robot = mail(4, "Delivery Status Notification", "This is an automatically generated Delivery Status "
                 "Notification. Delivery to the following recipients failed permanently.",
                 sender="mailer-daemon@example.com", Auto_Submitted="auto-replied")
    first = requests(1, 3) + [robot]
    second = requests(5, 2)
    pool = PreparePool(PS, seconds=30, warm_up=False, classify_with=cs)
    try:
        one, two = pool.submit(first), pool.submit(second)
        got_two, got_one = pool.results_classified(two), pool.results_classified(one)
    finally:
        pool.close()
    for items, got in ((first[:3], got_one[:3]), (second, got_two)):
        mails = [prepare(item, PS).mail for item in items]
        assert [c for _, c in got] == classify_mails(cs, mails)
    assert got_one[3][0].screen.verdict != "request" and got_one[3][1] is None
    assert "erasure" in got_one[0][1].labels and "access" in got_one[1][1].labels


def test_a_failed_classification_in_the_child_leaves_the_requests_to_the_parent(classifier_ready):
    # Guards against a model fault in the child costing the prepared messages, or blaming them:
    # they come back prepared, unclassified, for the parent to classify (a threshold that is
    # not a number makes the model's pass raise).
    cs = config_mod.ClassifierSettings(model_dir=os.environ["INBOX_BOT_MODEL_DIR"], triage_threshold="not a number")
    items = requests(1, 3)
    pool = PreparePool(PS, seconds=30, warm_up=False, classify_with=cs)
    try:
        got = pool.results_classified(pool.submit(items))
        again = pool.results_classified(pool.submit(requests(4, 1)))
    finally:
        pool.close()
    assert [result for result, _ in got] == [prepare(item, PS) for item in items]
    assert [c for _, c in got] == [None, None, None]
    assert again[0][0].pk == 4 and again[0][1] is None


def test_warm_up_builds_both_language_detectors_whatever_the_fast_paths_take():
    # Warming up through detect_language on an English letter built nothing once the English
    # fast path took such letters: the first foreign letter after a start then paid the load.
    from classifiers import language

    language.warm_up()
    assert language._long is not None and language._short is not None


def test_the_warm_up_mail_goes_through_every_costly_path_of_prepare():
    # The sample exists to load what a first batch would: parsing with an HTML alternative,
    # quoted history, an attachment to minimise, screening as a request, language detection.
    from inbox_bot.workers import _WARM_UP_MAIL

    prepared = prepare(Recorded(0, None, None, RECEIVED, _WARM_UP_MAIL), PS)
    assert prepared.screen.is_request
    assert prepared.mail.language == "pl"
    assert prepared.mail.text.strip() == "Proszę o usunięcie moich danych."
    assert prepared.minimised is not None and b"JVBERi0xLjQK" not in prepared.minimised
