"""Defects found in review, each pinned by the failure it caused."""

from __future__ import annotations

import threading

import pytest

from helpers import cases_of, outbox_rows, request_mail, run_once, settings_for, to_requesters
from inbox_bot import config, deliver, lifecycle, outbox, suppression
from inbox_bot.database import Database, upgrade
from inbox_bot.parsing import parse_message
from inbox_bot.schema import Case, utcnow
from inbox_bot.screening import ScreenContext, screen


def test_two_delivery_runs_at_once_send_each_row_once(smtp_sink, tmp_path):
    # The pass and the interval job used to deliver the same due rows together: every mail twice.
    settings = config.from_dict({
        "organisation": dict(config.DEFAULT_ORGANISATION),
        "smtp": {"host": smtp_sink.host, "port": smtp_sink.port, "security": "none"},
        "database": {"url": f"sqlite:///{tmp_path}/d.db"},
    })
    upgrade(settings.database.url)
    db = Database(settings.database.url)
    with db.transaction() as session:
        for i in range(20):
            outbox.queue(session, settings, outbox.Outgoing(
                kind="x", recipient=f"p{i}@example.pl", language="pl", context={},
                subject="s", text="t", automatic=False))
    runs = [threading.Thread(target=deliver.deliver_outbox, args=(settings, db)) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(60)
    messages = smtp_sink.wait_for(20)
    assert len(messages) == 20
    assert len({m.rcpt_tos for m in messages}) == 20
    assert all(r.status == "sent" for r in outbox_rows(settings))
    db.dispose()


def test_an_employees_own_request_is_not_taken_for_our_mail():
    # Thunderbird and Apple Mail write Message-IDs in the sender's domain: ours too.
    raw = request_mail("Ewa Nowak <ewa.nowak@optingo.eu>", "Dostęp do danych",
                       "Proszę o kopię moich danych osobowych.", message_id="<5f2a-11@optingo.eu>")
    ctx = ScreenContext.from_settings(config.from_dict({"organisation": dict(config.DEFAULT_ORGANISATION)}))
    assert screen(parse_message(raw), ctx).verdict == "request"
    ours = request_mail("Optingo <iodo@optingo.eu>", "x", "y", message_id="<" + "ab" * 16 + "@optingo.eu>")
    assert screen(parse_message(ours), ctx).verdict == "own_mail"


def test_an_internationalised_domain_gets_its_case_and_acknowledgement(dovecot, smtp_sink, tmp_path, classifier_ready):
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/i.db")
    raw = (
        "From: Jan <jan@bąk.pl>\r\nTo: iodo@optingo.eu\r\nSubject: =?utf-8?q?Usuni=C4=99cie_danych?=\r\n"
        "Message-ID: <idn-1@xn--bk-pla.pl>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Proszę o usunięcie moich danych osobowych (art. 17 RODO).\r\n"
    ).encode("utf-8")
    dovecot.append(raw)
    run_once(settings)
    assert len(cases_of(settings)) == 1
    (ack,) = to_requesters(smtp_sink, 1)
    assert ack.rcpt_tos == ("jan@xn--bk-pla.pl",)


@pytest.mark.parametrize("organisation, key", [({"holidays": "pl"}, "holidays"), ({"default_language": "xx"}, "default_language")])
def test_config_values_that_would_fail_every_case_are_refused_at_load(organisation, key):
    with pytest.raises(config.ConfigError, match=key):
        config.from_dict({"organisation": {"name": "n", "address": "iodo@optingo.eu", **organisation}}, "c.toml")


def test_relabelling_as_a_marketing_optout_suppresses_the_address(tmp_path):
    settings = config.from_dict({"organisation": dict(config.DEFAULT_ORGANISATION),
                                 "database": {"url": f"sqlite:///{tmp_path}/r.db"}})
    upgrade(settings.database.url)
    db = Database(settings.database.url)
    with db.transaction() as session:
        case = Case(reference="IODO-2026-00001", requester="ola@example.pl", labels=["other"], status="triage",
                    received_at=utcnow(), language="pl")
        session.add(case)
        session.flush()
        lifecycle.relabel(session, settings, case, ["marketing_optout"], utcnow())
    with db.session() as session:
        assert suppression.is_suppressed(session, "ola@example.pl")
    db.dispose()
