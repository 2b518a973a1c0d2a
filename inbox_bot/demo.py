"""`inbox-bot demo`: the whole loop on embedded servers, with no configuration and no network.

An in-memory IMAP server and an SMTP sink start on free loopback ports, the mailbox is seeded
with a dozen sample messages, one pass processes them on SQLite in a temporary folder, and a
summary a DPO can read is printed.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import tempfile
import time
from pathlib import Path

import click
from sqlalchemy import select

from inbox_bot import config as config_mod
from inbox_bot.database import Database, upgrade
from inbox_bot.embedded import EmbeddedImap, EmbeddedSmtpSink, sample_messages, seed_mailbox
from inbox_bot.runner import Runner
from inbox_bot.schema import Case, Message, OutboxRow, Suppression

ORGANISATION = config_mod.DEFAULT_ORGANISATION


def demo_settings(imap: EmbeddedImap, sink: EmbeddedSmtpSink, folder: Path) -> config_mod.Settings:
    return config_mod.from_dict(
        {
            "mailbox": {
                "host": imap.host,
                "port": imap.port,
                "security": "none",
                "username": imap.username,
                "password": imap.password,
                "idle": False,
                "processed_folder": "Processed",
                "quarantine_folder": "Quarantine",
                "sent_folder": "Sent",
            },
            "smtp": {"host": sink.host, "port": sink.port, "security": "none"},
            "organisation": dict(ORGANISATION),
            "database": {"url": f"sqlite:///{folder / 'inbox-bot.db'}"},
        },
        "<demo>",
    )


def _local(settings, moment) -> str:
    return moment.astimezone(settings.organisation.tz).strftime("%Y-%m-%d %H:%M") if moment else "-"


def run_demo(keep: str | None = None) -> None:
    started = time.monotonic()
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="inbox-bot-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    echo = click.echo
    try:
        with EmbeddedImap(username=ORGANISATION["address"]) as imap, EmbeddedSmtpSink() as sink:
            settings = demo_settings(imap, sink, folder)
            samples = sample_messages()
            seed_mailbox(imap.host, imap.port, imap.username, imap.password, [raw for _, raw in samples])
            echo(f"inbox-bot demo: IMAP on {imap.host}:{imap.port}, SMTP sink on {sink.host}:{sink.port}")
            echo(f"Seeded the DPO mailbox with {len(samples)} sample messages; processing them on SQLite in {folder}")
            upgrade(settings.database.url)
            db = Database(settings.database.url)
            runner = Runner(settings, db)
            try:
                report = runner.run_pass()
            finally:
                runner.close()
            _summary(settings, db, sink, samples, report)
            db.dispose()
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    echo(f"\nDemo finished in {time.monotonic() - started:.1f} s.")


def _summary(settings, db: Database, sink: EmbeddedSmtpSink, samples, report) -> None:
    echo = click.echo
    p = report.passes
    echo(
        f"\nOne pass: {p.fetched} fetched, {p.count(status='processed')} processed, "
        f"{p.count(status='quarantined')} quarantined; {report.delivery.sent} replies delivered.\n"
    )
    with db.session() as session:
        cases = list(session.execute(select(Case).order_by(Case.id)).scalars())
        echo(f"Cases opened ({len(cases)}):")
        echo(f"  {'reference':<16} {'status':<14} {'received (Warsaw)':<18} {'due':<18} request types")
        for case in cases:
            due = _local(settings, case.breach_due_at or case.due_at)
            clock = " (72-hour breach clock)" if case.breach_due_at else ""
            echo(
                f"  {case.reference:<16} {case.status:<14} {_local(settings, case.received_at):<18} "
                f"{due:<18} {', '.join(case.labels) or '(triage)'}{clock}"
            )
        sent = list(session.execute(select(OutboxRow).where(OutboxRow.status == "sent").order_by(OutboxRow.id)).scalars())
        to_requesters = [r for r in sent if r.automatic]
        to_dpo = [r for r in sent if not r.automatic]
        echo(f"\nReplies sent by themselves ({len(to_requesters)}):")
        for row in to_requesters:
            case = session.get(Case, row.case_id) if row.case_id else None
            echo(f"  {row.kind:<20} {case.reference if case else '':<16} -> {row.recipient}")
        if to_dpo:
            echo(f"\nTo the DPO: drafts awaiting approval and alerts ({len(to_dpo)}):")
            for row in to_dpo:
                case = session.get(Case, row.case_id) if row.case_id else None
                echo(f"  {row.kind:<20} {case.reference if case else '':<16} -> {row.recipient}")
        unanswered = list(
            session.execute(select(Message).where(Message.case_id.is_(None)).order_by(Message.id)).scalars()
        )
        echo(f"\nNot answered ({len(unanswered)}):")
        for message in unanswered:
            why = {
                "auto_reply": "an automatic reply (out of office): robots are never answered",
                "bounce": "a delivery failure notice: robots are never answered",
                "read_receipt": "a read receipt",
                "mailing_list": "mailing-list mail",
                "own_mail": "our own mail",
                "spoof": "claims to come from us without authentication",
                "noreply": "from a no-reply address",
            }.get(message.screen_verdict or "", None)
            if why is None:
                why = (
                    "not a data protection request (left for the DPO)"
                    if message.decision == "ignore"
                    else f"{message.status}: {message.last_error or message.decision}"
                )
            echo(f"  #{message.id:<3} {(message.subject or '(no subject)')[:50]:<52} {why}")
        entries = list(session.execute(select(Suppression).order_by(Suppression.address)).scalars())
        echo(f"\nMarketing suppression list ({len(entries)}):")
        for entry in entries:
            echo(f"  {entry.address}  (since {_local(settings, entry.created_at)}, case {entry.source})")
        if to_requesters:
            sample = next((r for r in to_requesters if r.kind == "acknowledgement"), to_requesters[0])
            msg = email.message_from_bytes(sample.raw, policy=email.policy.default)
            echo("\nOne acknowledgement in full, as the requester receives it:")
            echo("  " + "-" * 72)
            for header in ("From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "Auto-Submitted"):
                if msg[header]:
                    echo(f"  {header}: {msg[header]}")
            echo("")
            body = msg.get_body(preferencelist=("plain",))
            for line in (body.get_content() if body else "").splitlines():
                echo(f"  {line}")
            echo("  " + "-" * 72)
    echo(f"\nThe SMTP sink holds {len(sink.messages())} messages.")
