"""The shared MIME robustness corpus through the real pipeline: processed, quarantined, crashed, answered robots.

Every file of ../shared/corpora/mime/ is appended to a private Dovecot, then `Runner.run_pass`
runs (real SQLite, real aiosmtpd sink, the real classifier) until the inbox is empty. Printed:
how many records were processed or quarantined, how many passes raised (crashed, must be 0),
how many acknowledgements went to the sender of a bounce, report or auto-reply (must be 0),
and how long it took. Run: `.venv/bin/python bench/mime_tally.py` (needs dovecot and aiosmtpd).
tests/test_mime_processing.py runs the same function and asserts the zeros.
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

CORPUS = ROOT.parent / "shared" / "corpora" / "mime"
ROBOT_KINDS = ("bounce", "report", "autoreply")
# Files the manifest's heuristic calls "bounce" that, read by a person, are not robot mail: spam
# from a person-like sender (no report, no robot header) in a bounce parser's corpus, and a
# person forwarding a bounce ("Fwd: Returned mail"). Answering them is answering a person.
NOT_ROBOTS = frozenset({
    "perl-Mail-DeliveryStatus-BounceParser/t/corpus/spam-bogus-email-in-report.msg",
    "perl-Mail-DeliveryStatus-BounceParser/t/corpus/spam-with-badly-parsed-email.msg",
    "perl-Mail-DeliveryStatus-BounceParser/t/corpus/spam-with-image.msg",
    "perl-Mail-DeliveryStatus-BounceParser/t/corpus/spam-lots-of-bogus-addresses.msg",
    "sisimai-set-of-emails/maildir/bsd/lhost-sendmail-14.eml",
})


def message_key_id(raw: bytes) -> str | None:
    from email.parser import BytesHeaderParser
    from email.policy import compat32

    try:
        value = BytesHeaderParser(policy=compat32).parsebytes(raw[:65536], headersonly=True).get("Message-ID")
    except Exception:  # noqa: BLE001
        return None
    return str(value).strip().strip("<>").strip() if value else None


def _in_reply_to(raw: bytes) -> str | None:
    return message_key_id(raw.replace(b"\nIn-Reply-To:", b"\nMessage-ID-Answered:").replace(b"Message-ID:", b"X-Own-ID:")
                          .replace(b"Message-ID-Answered:", b"Message-ID:"))


def run_tally(corpus: Path, dovecot, sink, db_url: str, *, message_seconds: int = 10, max_passes: int = 6) -> dict:
    """Append every corpus file, run passes until the inbox is empty; return the figures."""
    from email.utils import parseaddr

    from helpers import messages_of, settings_for
    from inbox_bot.database import Database, upgrade
    from inbox_bot.parsing import normalise_address
    from inbox_bot.runner import Runner

    with open(corpus / "MANIFEST.csv", newline="", encoding="utf-8") as fh:
        manifest = {row["file"]: row["kind"] for row in csv.DictReader(fh)}
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.name != "MANIFEST.csv")
    settings = settings_for(dovecot, sink, db_url, limits={"message_seconds": message_seconds},
                            mailbox={"batch_size": 100})
    robot_files: dict[str, str] = {}  # Message-ID -> file, for robot files
    client = dovecot.imap_client()
    try:
        for path in files:
            raw = path.read_bytes()
            client.append("INBOX", raw)
            name = str(path.relative_to(corpus))
            if manifest.get(name, "") in ROBOT_KINDS:
                # Our acknowledgement names what it answers in In-Reply-To: match on that.
                message_id = message_key_id(raw)
                if message_id:
                    robot_files.setdefault(message_id, name)
    finally:
        client.logout()

    upgrade(db_url)
    db = Database(db_url)
    runner = Runner(settings, db)
    crashed = 0
    passes = 0
    started = time.monotonic()
    try:
        for passes in range(1, max_passes + 1):
            try:
                report = runner.run_pass()
            except Exception as exc:  # noqa: BLE001 - counted: the figure must be 0
                crashed += 1
                print(f"pass {passes} raised {type(exc).__name__}: {exc}", file=sys.stderr)
                runner.close()
                continue
            if report.passes.fetched == 0 and not _unhandled(dovecot):
                break
    finally:
        runner.close()
        db.dispose()
    elapsed = time.monotonic() - started
    records = messages_of(settings)
    status = Counter(r.status for r in records)
    verdicts = Counter(r.screen_verdict or "-" for r in records)
    sent = sink.messages()
    answered_files = sorted({robot_files[i] for i in (_in_reply_to(m.raw) for m in sent) if i in robot_files})
    answered = [f for f in answered_files if f not in NOT_ROBOTS]
    answered_robots = len(answered)
    return {
        "files": len(files),
        "records": len(records),
        "same_message_id": len(files) - len(records),
        "processed": status.get("processed", 0),
        "quarantined": status.get("quarantined", 0),
        "other_status": sum(v for k, v in status.items() if k not in ("processed", "quarantined")),
        "crashed": crashed,
        "answered_robots": answered_robots,
        "acknowledgements": len(sent),
        "inbox_unhandled": _unhandled(dovecot),
        "passes": passes,
        "seconds": round(elapsed, 1),
        "verdicts": dict(verdicts.most_common()),
        "answered_robot_files": answered,
        "answered_manifest_robots_that_are_people": [f for f in answered_files if f in NOT_ROBOTS],
    }


def _unhandled(dovecot) -> int:
    """Messages still in the inbox without our handled keyword (mail meant to stay is flagged)."""
    from inbox_bot.mailbox import HANDLED_KEYWORD

    return sum(1 for flags in dovecot.flags("INBOX").values() if HANDLED_KEYWORD.encode() not in flags)


def main() -> int:
    from servers import DovecotServer, SmtpSink

    if not CORPUS.is_dir():
        print(f"no corpus at {CORPUS}", file=sys.stderr)
        return 2
    from classifiers.train import load_classifier

    load_classifier(None)
    dovecot = DovecotServer().start()
    sink = SmtpSink().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            figures = run_tally(CORPUS, dovecot, sink, f"sqlite:///{tmp}/tally.db")
    finally:
        sink.stop()
        dovecot.cleanup()
    for key, value in figures.items():
        print(f"{key}: {value}")
    return 0 if figures["crashed"] == 0 and figures["answered_robots"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
