"""The database tables, as SQLAlchemy 2 declarative models.

Migrations in inbox_bot/migrations create and change these tables; this module is the
picture of the newest revision. All times are stored as UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.sqlite import DATETIME as SQLiteDATETIME
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (naive text) and PostgreSQL alike.

    Without it SQLite hands back naive datetimes and a comparison with an aware "now" raises,
    or worse, a local time is silently taken for UTC and a deadline moves by an hour or two.
    On SQLite the value is written as the very text SQLAlchemy's DATETIME writes
    ("2026-11-24 16:52:53.424126", naive UTC) in one step: its own bind step formatted each
    value through a dict, and applying a message binds some twenty-five datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLiteUTCText())
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # SQLite: the text written above (or by an older release)
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class _SQLiteUTCText(SQLiteDATETIME):
    """SQLite's DATETIME column type (the same DDL) whose values UTCDateTime converts itself."""

    def bind_processor(self, dialect):
        return None

    def result_processor(self, dialect, coltype):
        return None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Message(Base):
    """An inbound message with its raw bytes: the record that makes fetching twice harmless."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_messages_server_uid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(255))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of Message-ID or raw
    message_id: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once purged by retention
    size: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the server's INTERNALDATE
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    screen_verdict: Mapped[str | None] = mapped_column(String(32))
    labels: Mapped[list | None] = mapped_column(JSON)
    confidence: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(64))
    decision: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="new")  # new|processed|quarantined
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    server_done: Mapped[bool] = mapped_column(Boolean, default=False)  # moved/flagged on the server
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    hits: Mapped[list[ScreenHit]] = relationship(back_populates="message", cascade="all, delete-orphan")


class ScreenHit(Base):
    """A screening rule that matched a message, kept for audit."""

    __tablename__ = "screen_hits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)

    message: Mapped[Message] = relationship(back_populates="hits")


class Case(Base):
    """A tracked request with its statutory clock."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    requester: Mapped[str | None] = mapped_column(String(320), index=True)
    labels: Mapped[list] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(8), default="pl")
    status: Mapped[str] = mapped_column(String(32), default="new", index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None for mail with no clock
    original_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extension_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breach_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    identity_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    flags: Mapped[list] = mapped_column(JSON, default=list)
    thread_message_id: Mapped[str | None] = mapped_column(Text)  # the request's Message-ID
    thread_references: Mapped[list] = mapped_column(JSON, default=list)
    outcome: Mapped[str | None] = mapped_column(String(32))
    anonymised: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseEvent.id"
    )


class CaseEvent(Base):
    """One entry of a case's append-only history: who, when, what, why."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(48))
    actor: Mapped[str] = mapped_column(String(320), default="inbox-bot")
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")


class OutboxRow(Base):
    """A message to send. Queuing fixes its Message-ID and what it is made of (`spec`, JSON of
    inbox_bot.mailspec); delivery builds the bytes from that and stores them in `raw` before the
    first attempt, so a resend is the same mail. A row queued with its bytes has no spec."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    # Declared so that the unit of work writes a case before the rows that point to it when
    # their ids are handed out in advance (inbox_bot.ids) and all go in one flush.
    case: Mapped[Case | None] = relationship(foreign_keys=[case_id])
    kind: Mapped[str] = mapped_column(String(48))
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)  # counts against the per-recipient cap
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    envelope_from: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    spec: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # queued|sent|parked
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deliver_by: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    copy_to_sent: Mapped[bool] = mapped_column(Boolean, default=True)
    copied_to_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Suppression(Base):
    """An address that must receive no marketing. Never stops a legally required reply."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    reason: Mapped[str] = mapped_column(String(64), default="marketing_optout")
    source: Mapped[str | None] = mapped_column(String(64))  # case reference or "cli"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReferenceCounter(Base):
    """The last case number handed out per year, for references like IODO-2026-00042."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Meta(Base):
    """Small named values the daemon keeps: the last digest time, a generated approval key."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Draft(Base):
    """A substantive reply waiting for the DPO: nothing in it leaves until it is approved."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    case: Mapped[Case] = relationship(foreign_keys=[case_id])  # write order, as OutboxRow.case
    kind: Mapped[str] = mapped_column(String(48))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|approved|rejected|sent
    nonce: Mapped[str] = mapped_column(String(64))  # with the key, yields the approval token
    dpo_message_id: Mapped[str | None] = mapped_column(String(255))  # the mail that asked the DPO
    final_text: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decision_note: Mapped[str | None] = mapped_column(Text)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    # The reply's outbox row is written before the draft that points to it (see OutboxRow.case).
    outbox: Mapped[OutboxRow | None] = relationship(foreign_keys=[outbox_id])
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
