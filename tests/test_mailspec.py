"""Outgoing mail is built at delivery from what queuing fixed (inbox_bot.mailspec).

What could go wrong: a context value that reads back differently (a date in another zone, a
tuple, a key that looks like a tag) and so renders another letter; bytes built twice that
differ, so a resend is not the same mail; a row whose template fails blocking the outbox or
vanishing without the DPO knowing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from helpers import ORGANISATION, outbox_rows, parsed, settings_for
from inbox_bot import config as config_mod, deliver, mailspec, outbox
from inbox_bot.database import Database, upgrade
from inbox_bot.pipeline import _reply_context
from inbox_bot.schema import Case, OutboxRow, utcnow

WARSAW = ZoneInfo("Europe/Warsaw")
RECEIVED = datetime(2026, 3, 28, 23, 30, tzinfo=timezone.utc)  # 29 March in Warsaw, the day clocks change


def _case(labels: list[str], status: str = "acknowledged") -> Case:
    return Case(
        id=7, reference="IODO-2026-00007", requester="jan@example.pl", labels=labels, language="pl",
        status=status, received_at=RECEIVED, due_at=RECEIVED + timedelta(days=31),
        breach_due_at=RECEIVED + timedelta(hours=72) if "breach_report" in labels else None,
    )


def _spec(kind: str, language: str, context: dict | None, **fixed) -> mailspec.MailSpec:
    values = dict(
        kind=kind, language=language, context=context, subject=None, text=None,
        from_addr="iodo@optingo.eu", from_name="Optingo Digital Sp. z o.o. (IODO)", to="jan@example.pl",
        message_id="0123abcd@optingo.eu", in_reply_to="req-1@example.pl",
        references=("root@example.pl", "req-1@example.pl"), auto_submitted="auto-replied",
        loop_header=("X-Inbox-Bot-Loop", "optingo.eu"), case_reference="IODO-2026-00007",
        date=datetime(2026, 3, 29, 1, 15, tzinfo=timezone.utc),
    )
    values.update(fixed)
    return mailspec.MailSpec(**values)


SETTINGS = config_mod.from_dict({"organisation": ORGANISATION})

# Each kind the processing of a request queues, with a context as processing makes it.
PER_MESSAGE = [
    ("acknowledgement", ["access", "erasure"], {}),
    ("acknowledgement", ["breach_report"], {}),
    ("acknowledgement", [], {}),  # triage
    ("optout_confirmation", ["marketing_optout"], {}),
    ("breach_alert", ["breach_report"], {"excerpt": "Wyciekły dane klientów: ąęłńóśźż «quotes» \u2028 line"}),
]


@pytest.mark.parametrize("language", ["pl", "en"])
@pytest.mark.parametrize("kind,labels,extra", PER_MESSAGE)
def test_a_stored_spec_builds_the_very_bytes_of_the_spec_it_was_made_from(kind, labels, extra, language):
    context = _reply_context(SETTINGS, _case(labels, "triage" if not labels else "acknowledged"), language, **extra)
    spec = _spec(kind, language, context)
    stored = mailspec.loads(mailspec.dumps(spec))
    assert mailspec.build(stored) == mailspec.build(spec)
    # Built twice, the same bytes: a resend of a row built again would be the same mail.
    assert mailspec.build(stored) == mailspec.build(mailspec.loads(mailspec.dumps(spec)))


def test_draft_mail_to_the_dpo_round_trips_with_its_text_and_token():
    context = {
        "organisation": "Optingo", "reference": "IODO-2026-00007", "token": "ABCDEFGHJK234567",
        "draft_kind": "identity_request", "requester": "jan@example.pl", "draft_subject": "Prośba o potwierdzenie",
        "draft_text": "Szanowna Pani,\n\nprosimy o potwierdzenie tożsamości.\n\n[[DO UZUPEŁNIENIA: podpis]]\n",
        "due_at": RECEIVED + timedelta(days=31), "timezone": "Europe/Warsaw",
    }
    spec = _spec("draft_for_approval", "pl", context, to="dpo@optingo.eu", auto_submitted="auto-generated")
    raw = mailspec.build(mailspec.loads(mailspec.dumps(spec)))
    assert raw == mailspec.build(spec)
    assert b"ABCDEFGHJK234567" in raw


def test_dates_come_back_in_their_own_zone_and_the_local_calendar_day():
    # 23:30 UTC on 28 March is already 29 March in Warsaw: read back in UTC, a letter would
    # promise the wrong day.
    local = RECEIVED.astimezone(WARSAW)
    context = {"received_at": local, "utc": RECEIVED, "day": date(2026, 4, 29), "nested": [{"at": local}]}
    back = mailspec.loads(mailspec.dumps(_spec("acknowledgement", "pl", context))).context
    assert back["received_at"] == local and back["received_at"].tzinfo == WARSAW
    assert back["received_at"].date() == date(2026, 3, 29)
    assert back["utc"] == RECEIVED and back["utc"].utcoffset() == timedelta(0)
    assert back["day"] == date(2026, 4, 29) and not isinstance(back["day"], datetime)
    assert back["nested"][0]["at"].tzinfo == WARSAW


def test_a_key_that_looks_like_a_tag_stays_a_plain_value():
    context = {"$date": "2026-01-01", "x": {"$datetime": "2026-01-01T00:00:00+00:00", "zone": None, "more": 1}}
    back = mailspec.loads(mailspec.dumps(_spec("acknowledgement", "pl", context))).context
    assert back == context


@pytest.mark.parametrize("value", [object(), datetime(2026, 1, 1, 12), {1: "a"}, {"s": {"x", "y"}},
                                   {"$date": "2026-01-01"}])
def test_what_json_cannot_keep_is_refused(value):
    with pytest.raises(mailspec.NotStorable):
        mailspec.dumps(_spec("acknowledgement", "pl", {"value": value}))


def test_a_spec_of_another_format_is_refused():
    with pytest.raises(ValueError):
        mailspec.loads('{"format": 99}')


def _queued_rows(settings, db, context: dict, kind: str = "acknowledgement") -> list[OutboxRow]:
    with db.transaction() as session:
        outbox.queue(session, settings, outbox.Outgoing(kind=kind, recipient="jan@example.pl", language="pl",
                                                        context=context, automatic=False))
    with db.session() as session:
        return list(session.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars())


def test_queue_keeps_the_spec_and_builds_at_once_what_it_cannot_keep(tmp_path, db_url):
    settings = config_mod.from_dict({"organisation": ORGANISATION, "database": {"url": db_url}})
    upgrade(db_url)
    db = Database(db_url)
    context = _reply_context(settings, _case(["access"]), "pl")
    (row,) = _queued_rows(settings, db, context)
    assert row.raw is None and mailspec.loads(row.spec).message_id == row.message_id
    assert parsed(outbox.message_bytes(row.raw, row.spec))["Message-ID"] == f"<{row.message_id}>"

    class Entry:  # the digest's sections hold objects like this
        reference = "IODO-2026-00001"

    _, built = _queued_rows(settings, db, {**context, "entries": [Entry()]})
    assert built.spec is None and parsed(built.raw)["Message-ID"] == f"<{built.message_id}>"
    db.dispose()


def test_an_address_smtp_cannot_carry_is_refused_when_queued_not_at_delivery(tmp_path):
    settings = config_mod.from_dict({"organisation": ORGANISATION})
    url = f"sqlite:///{tmp_path}/q.db"
    upgrade(url)
    db = Database(url)
    with pytest.raises(ValueError), db.transaction() as session:
        outbox.queue(session, settings, outbox.Outgoing(kind="acknowledgement", recipient="a b@example.pl",
                                                        language="pl", context={}, automatic=False))
    db.dispose()


def test_delivery_stores_the_bytes_it_sends_before_the_first_attempt(dovecot, smtp_sink, tmp_path):
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/d.db")
    upgrade(settings.database.url)
    db = Database(settings.database.url)
    _queued_rows(settings, db, _reply_context(settings, _case(["erasure"]), "pl"))
    smtp_sink.fail_next(451)  # the first attempt fails: the bytes must be kept all the same
    assert deliver.deliver_outbox(settings, db).deferred == 1
    (row,) = outbox_rows(settings)
    assert row.raw is not None and row.spec is None
    first = row.raw
    with db.transaction() as session:
        session.get(OutboxRow, row.id).next_attempt_at = utcnow()
    assert deliver.deliver_outbox(settings, db).sent == 1
    (received,) = smtp_sink.messages()
    (row,) = outbox_rows(settings)
    # The server got the stored bytes (it adds nothing we compare), and they were not rebuilt.
    assert row.raw == first and parsed(received.raw)["Message-ID"] == f"<{row.message_id}>"
    assert parsed(received.raw)["Subject"] == parsed(first)["Subject"]
    db.dispose()


def test_a_row_whose_template_fails_is_parked_the_dpo_told_and_the_rest_sent(dovecot, smtp_sink, tmp_path):
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/p.db")
    upgrade(settings.database.url)
    db = Database(settings.database.url)
    _queued_rows(settings, db, {})  # an acknowledgement without its values: the template raises
    _queued_rows(settings, db, _reply_context(settings, _case(["access"]), "pl"))
    report = deliver.deliver_outbox(settings, db)
    assert (report.sent, report.parked) == (1, 1)
    deliver.deliver_outbox(settings, db)  # the alert queued by the park
    rows = outbox_rows(settings)
    assert [(r.kind, r.status) for r in rows] == [
        ("acknowledgement", "parked"), ("acknowledgement", "sent"), ("delivery_alert", "sent")]
    assert "could not build" in rows[0].last_error
    assert rows[0].spec is not None  # kept, so the DPO can see what was meant to go
    assert {m.rcpt_tos for m in smtp_sink.messages()} == {("jan@example.pl",), ("dpo@optingo.eu",)}
    db.dispose()


def test_migration_keeps_old_rows_and_going_back_builds_the_waiting_ones(db_url):
    # A database of the first schema holds rows with bytes; after the upgrade they are sent as
    # they are. Going back, rows still waiting for their bytes get them: none is dropped.
    from alembic import command
    from sqlalchemy import text

    from inbox_bot.database import _alembic_config, make_engine

    command.upgrade(_alembic_config(db_url), "0001")
    engine = make_engine(db_url)
    old = b"From: iodo@optingo.eu\r\nSubject: old\r\n\r\nqueued before the upgrade\r\n"
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO outbox (id, kind, automatic, recipient, envelope_from, message_id, raw, status, attempts,"
            " next_attempt_at, deliver_by, copy_to_sent, copied_to_sent, created_at) VALUES (900, 'acknowledgement',"
            " true, 'jan@example.pl', 'iodo@optingo.eu', 'old@optingo.eu', :raw, 'queued', 0, :now, :now, true,"
            " false, :now)"), {"raw": old, "now": utcnow()})
    engine.dispose()
    upgrade(db_url)
    settings = config_mod.from_dict({"organisation": ORGANISATION, "database": {"url": db_url}})
    db = Database(db_url)
    rows = {r.message_id: r for r in _queued_rows(settings, db, _reply_context(settings, _case(["access"]), "pl"))}
    assert (rows.pop("old@optingo.eu").raw, len(rows)) == (old, 1)
    (new,) = rows.values()
    assert new.raw is None and new.spec is not None
    db.dispose()
    command.downgrade(_alembic_config(db_url), "0001")
    engine = make_engine(db_url)
    with engine.connect() as connection:
        stored = dict(connection.execute(text("SELECT message_id, raw FROM outbox")).all())
    engine.dispose()
    assert bytes(stored["old@optingo.eu"]) == old
    assert parsed(bytes(stored[new.message_id]))["Message-ID"] == f"<{new.message_id}>"


# -- the two encoders ------------------------------------------------------------------------------
# A flat context (strings, integers, booleans, None, aware datetimes, dates, lists of strings)
# is encoded by orjson, the rest by the standard encoder after a walk that tags dates. What
# could go wrong: the two writing different JSON for the same context (an escape, a float, a
# zone), orjson storing what the standard way refuses (NaN becomes null there), or a context
# taking the wrong way.

from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402

_ZONES = [timezone.utc, WARSAW, ZoneInfo("America/St_Johns"), timezone(timedelta(hours=5, minutes=45))]
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text(),
    st.datetimes(timezones=st.sampled_from(_ZONES)), st.dates(),
    st.lists(st.text(max_size=8), max_size=3), st.tuples(st.text(max_size=8)),
)


def _standard(spec: mailspec.MailSpec) -> str:
    document = {"format": mailspec.FORMAT, **{name: getattr(spec, name) for name in mailspec._FIELDS}}
    return mailspec._encode(mailspec._tagged(document))


@hsettings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=12), _SCALARS, max_size=8), st.text(max_size=40))
def test_a_flat_context_is_written_as_the_standard_encoder_writes_it(context, text):
    assert mailspec._flat(context)
    spec = _spec("acknowledgement", "pl", context, subject=text)
    stored = mailspec.dumps(spec)
    assert stored == _standard(spec)
    assert mailspec.loads(stored) == mailspec.loads(_standard(spec))


def test_the_contexts_processing_makes_take_the_quick_way_and_read_back_the_same():
    for kind, labels, extra in PER_MESSAGE:
        context = _reply_context(SETTINGS, _case(labels), "pl", **extra)
        assert mailspec._flat(context), kind
        spec = _spec(kind, "pl", context)
        assert mailspec.dumps(spec) == _standard(spec)
        assert mailspec.loads(mailspec.dumps(spec)).context == context


class _Text(str):
    pass


@pytest.mark.parametrize("value, refused", [
    (float("nan"), ValueError), (float("inf"), ValueError),  # orjson would have written null
    (5.960464477539063e-08, None), (0.1, None),  # orjson writes the exponent otherwise
    (2**70, None),  # flat, but over 64 bits: orjson refuses it and the standard way writes it
    (_Text("a str subclass"), None), ({"nested": [1, {"k": date(2026, 1, 2)}]}, None),
    ([1, "mixed"], None), (datetime(2026, 1, 1, 12), mailspec.NotStorable), ({"$date": "2026-01-01"}, mailspec.NotStorable),
])
def test_a_context_the_quick_way_cannot_take_goes_the_standard_way(value, refused):
    spec = _spec("acknowledgement", "pl", {"value": value, "plain": "ż"})
    if refused is not None:
        with pytest.raises(refused):
            mailspec.dumps(spec)
        return
    assert mailspec.dumps(spec) == _standard(spec)
    assert mailspec.loads(mailspec.dumps(spec)).context == spec.context
