"""Helpers that read like the domain: build requests, configure a run, look at what was sent."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import func, select

from inbox_bot import config as config_mod
from inbox_bot.database import Database, upgrade
from inbox_bot.runner import Runner
from inbox_bot.schema import Case, Message, OutboxRow

ORGANISATION = config_mod.DEFAULT_ORGANISATION


def request_mail(
    sender: str,
    subject: str,
    body: str,
    *,
    charset: str = "utf-8",
    cte: str | None = None,
    message_id: str | None = None,
    to: str = "iodo@optingo.eu",
    extra_headers: dict | None = None,
) -> bytes:
    """A message as a person's mail client would write it, encoded in `charset`."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2].strip(">"))
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    msg.set_content(body, charset=charset, cte=cte)
    return msg.as_bytes()


def config_data(dovecot, sink, db_url: str, **sections) -> dict:
    """The configuration of a test run as a TOML-shaped dict; a value of None leaves a key out."""
    data = {
        "mailbox": {
            "host": dovecot.host, "port": dovecot.port, "security": "none", "username": dovecot.user,
            "password": dovecot.password, "timeout": 10, "poll_interval": 1, "idle": False,
        },
        "smtp": {"host": sink.host, "port": sink.port, "security": "none", "timeout": 10},
        "organisation": dict(ORGANISATION),
        "database": {"url": db_url},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return {name: {k: v for k, v in values.items() if v is not None} for name, values in data.items()}


def settings_for(dovecot, sink, db_url: str, **sections) -> config_mod.Settings:
    """Settings pointing at the test's Dovecot, SMTP sink and database."""
    return config_mod.from_dict(config_data(dovecot, sink, db_url, **sections), "<test>")


def toml_value(value) -> str:
    """A Python value as a TOML value (bool, number, array or basic string): config files for tests and bench."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path, dovecot, sink, db_url: str, **sections):
    """The same configuration as settings_for, written as a TOML file for the command line."""
    lines = []
    for name, values in config_data(dovecot, sink, db_url, **sections).items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in values.items())
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_once(settings: config_mod.Settings):
    """One pass, as `inbox-bot run --once` does it: fetch, process, deliver."""
    upgrade(settings.database.url)
    db = Database(settings.database.url)
    runner = Runner(settings, db)
    try:
        return runner.run_pass()
    finally:
        runner.close()
        db.dispose()


def outbox_bytes(row) -> bytes:
    """An outbox row's message: its stored bytes, or built from its spec as delivery builds it."""
    from inbox_bot import outbox

    return outbox.message_bytes(row.raw, row.spec)


def parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def body_text(raw: bytes) -> str:
    msg = parsed(raw)
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def count(settings: config_mod.Settings, model, *where) -> int:
    db = Database(settings.database.url)
    try:
        with db.session() as session:
            return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
    finally:
        db.dispose()


def cases_of(settings: config_mod.Settings) -> list[Case]:
    db = Database(settings.database.url)
    try:
        with db.session() as session:
            return list(session.execute(select(Case).order_by(Case.id)).scalars())
    finally:
        db.dispose()


def outbox_rows(settings: config_mod.Settings, expected: int | None = None, **match) -> list[OutboxRow]:
    db = Database(settings.database.url)
    try:
        with db.session() as session:
            query = select(OutboxRow).order_by(OutboxRow.id)
            for key, value in match.items():
                query = query.where(getattr(OutboxRow, key) == value)
            rows = list(session.execute(query).scalars())
    finally:
        db.dispose()
    if expected is not None:
        assert len(rows) == expected, f"expected {expected} outbox rows, found {len(rows)}: {[r.kind for r in rows]}"
    return rows


def messages_of(settings: config_mod.Settings) -> list[Message]:
    db = Database(settings.database.url)
    try:
        with db.session() as session:
            return list(session.execute(select(Message).order_by(Message.id)).scalars())
    finally:
        db.dispose()


def to_requesters(sink, expected: int | None = None, timeout: float = 20.0) -> list:
    """What the SMTP sink received for requesters (drafts and alerts to the DPO left out)."""
    import time

    dpo = tuple(ORGANISATION["dpo"])
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in sink.messages() if not set(m.rcpt_tos) <= set(dpo)]
        if expected is None or len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def history(db, case) -> list:
    """The case's events as stored, read in a session of their own.

    A Case held after its transaction is a snapshot: events recorded on it are written in bulk
    (inbox_bot.eventlog) and are not in a history the snapshot never loaded.
    """
    from inbox_bot.schema import Case

    with db.session() as session:
        return list(session.get(Case, case.id).events)
