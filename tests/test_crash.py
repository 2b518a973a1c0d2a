"""Crash safety: a real daemon process over a real Dovecot mailbox, killed with SIGKILL at random
moments many times, then restarted until it is idle.

Afterwards: every appended message has exactly one record (nothing lost, nothing recorded
twice), every request exactly one case, no requester received two different acknowledgements
(a resend after a kill mid-send carries the same Message-ID: distinct Message-IDs per recipient
in the SMTP sink == 1), and the inbox is empty. Seeded, so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from helpers import cases_of, messages_of, parsed, request_mail, write_config
from inbox_bot.database import upgrade
from test_end_to_end import REQUESTS

HERE = Path(__file__).resolve().parent
SEED = int(os.environ.get("INBOX_BOT_CRASH_SEED", "20261123"))
KILLS = int(os.environ.get("INBOX_BOT_CRASH_KILLS", "30"))
ROBOT = (
    b"From: Mail Delivery System <MAILER-DAEMON@mx.example.pl>\r\nTo: iodo@optingo.eu\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <crash-bounce-%d@mx.example.pl>\r\n"
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; mx.example.pl\r\n\r\nFinal-Recipient: rfc822; x@example.pl\r\nAction: failed\r\n"
    b"Status: 5.1.1\r\n--b--\r\n"
)




def _config(tmp_path: Path, dovecot, sink, db_url: str) -> Path:
    return write_config(tmp_path / "config.toml", dovecot, sink, db_url,
                        mailbox={"batch_size": 4}, replies={"cap_per_recipient": 5})


def _start(config: Path, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "crash_daemon.py"), str(config), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ), cwd=HERE.parent,
    )
    line = proc.stdout.readline()
    if line.strip() != b"ready":
        proc.kill()
        raise AssertionError(f"daemon did not start: {line!r} {proc.stderr.read()[-2000:]!r}")
    return proc


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_duplicates_nothing(dovecot, smtp_sink, tmp_path, classifier_ready):
    rng = random.Random(SEED)
    db_url = f"sqlite:///{tmp_path}/crash.db"
    upgrade(db_url)
    config = _config(tmp_path, dovecot, smtp_sink, db_url)

    appended: dict[str, str | None] = {}  # Message-ID -> requester (None for robots)
    counter = iter(range(10_000))

    def append_some(n: int) -> None:
        for _ in range(n):
            i = next(counter)
            if i % 7 == 6:
                raw = ROBOT % i
                appended[f"crash-bounce-{i}@mx.example.pl"] = None
            else:
                _lang, subject, body = REQUESTS[i % len(REQUESTS)]
                sender = f"osoba{i:03d}@example.pl"
                raw = request_mail(f"Osoba {i} <{sender}>", subject, body)
                appended[parsed(raw)["Message-ID"].strip("<>")] = sender
            dovecot.append(raw)

    append_some(20)
    started = time.monotonic()
    kills = 0
    for _round in range(KILLS):
        proc = _start(config)
        time.sleep(rng.uniform(0.05, 0.8))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        kills += 1
        if rng.random() < 0.5:
            append_some(rng.randint(1, 3))  # new mail keeps arriving between crashes
    # Restart once more and let it finish the work.
    final = _start(config, "--until-idle")
    try:
        assert final.wait(timeout=120) == 0, final.stderr.read()[-3000:]
    finally:
        final.kill()
        final.stdout.close()
        final.stderr.close()
    elapsed = time.monotonic() - started

    settings_db = type("S", (), {})()  # the helpers need only .database.url
    settings_db.database = type("D", (), {"url": db_url})()
    records = messages_of(settings_db)
    recorded_ids = [parsed(r.raw)["Message-ID"].strip("<>") for r in records]
    lost = set(appended) - set(recorded_ids)
    duplicate_records = len(recorded_ids) - len(set(recorded_ids))
    requesters = {s for s in appended.values() if s}
    cases = cases_of(settings_db)
    per_requester = defaultdict(int)
    for case in cases:
        per_requester[case.requester] += 1
    acknowledgement_ids = defaultdict(set)
    for message in smtp_sink.messages():
        acknowledgement_ids[message.rcpt_tos[0]].add(parsed(message.raw)["Message-ID"])
    # Only requesters count: the DPO receives drafts and alerts, several different ones by design.
    two_different = sorted(r for r, ids in acknowledgement_ids.items() if r in requesters and len(ids) > 1)
    to_requesters = [m for m in smtp_sink.messages() if m.rcpt_tos[0] in requesters]
    resends = len(to_requesters) - sum(len(ids) for r, ids in acknowledgement_ids.items() if r in requesters)

    print(
        f"\ncrash test: seed {SEED}, kills {kills}, messages {len(appended)} "
        f"({len(requesters)} requests), records {len(records)}, lost {len(lost)}, "
        f"duplicate records {duplicate_records}, cases {len(cases)}, "
        f"requesters with two different acknowledgements {len(two_different)}, "
        f"same-Message-ID resends {resends}, {elapsed:.1f} s"
    )
    assert not lost
    assert duplicate_records == 0 and len(records) == len(appended)
    assert all(r.status == "processed" for r in records), {r.status for r in records}
    assert set(per_requester) == requesters and set(per_requester.values()) == {1}
    assert not two_different
    assert requesters <= set(acknowledgement_ids)  # every requester was acknowledged
    assert dovecot.folder_uids("INBOX") == []
