"""Bad input through the real pipeline: the shared MIME corpus, header injection, a robot that
slips past screening, oversized mail, runaway parsing, and property tests over parse + screen.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from helpers import cases_of, messages_of, outbox_rows, parsed, request_mail, run_once, settings_for, to_requesters
from inbox_bot.errors import SenderError
from inbox_bot.parsing import parse_message
from inbox_bot.screening import ScreenContext, screen
from inbox_bot.timelimit import MessageTimeLimit, run_with_limit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

CTX = ScreenContext(own_address="iodo@optingo.eu", own_domain="optingo.eu", message_id_domain="optingo.eu",
                    dpo_addresses=("dpo@optingo.eu",))


@pytest.mark.slow
def test_every_corpus_file_is_processed_or_quarantined_and_no_robot_is_answered(
    dovecot, smtp_sink, tmp_path, shared_corpora, classifier_ready
):
    from mime_tally import run_tally

    figures = run_tally(shared_corpora / "mime", dovecot, smtp_sink, f"sqlite:///{tmp_path}/mime.db")
    print("\nmime tally:", figures)
    assert figures["crashed"] == 0
    assert figures["answered_robots"] == 0
    assert figures["other_status"] == 0  # nothing left "new": processed or quarantined, no hang
    assert figures["processed"] + figures["quarantined"] == figures["records"]
    assert figures["inbox_unhandled"] == 0


def test_header_injection_through_display_name_and_subject(dovecot, smtp_sink, tmp_path, classifier_ready):
    # Encoded CR/LF in the From display name and the Subject must not become headers of our reply.
    raw = (
        b"From: =?utf-8?q?Jan=0D=0ABcc=3A_victim=40evil=2Eexample?= <jan@example.pl>\r\n"
        b"To: iodo@optingo.eu\r\n"
        b"Subject: =?utf-8?q?Wniosek=0D=0ABcc=3A_victim2=40evil=2Eexample=0D=0A=0D=0Abody?=\r\n"
        b"Message-ID: <inject-1@example.pl>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Prosz\xc4\x99 o usuni\xc4\x99cie wszystkich moich danych osobowych (art. 17 RODO).\r\n"
    )
    dovecot.append(raw)
    run_once(settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/i.db"))
    (sent,) = to_requesters(smtp_sink, 1)  # drafts to the DPO left out
    assert sent.rcpt_tos == ("jan@example.pl",)
    msg = parsed(sent.raw)
    assert msg["Bcc"] is None
    head = sent.raw.split(b"\r\n\r\n", 1)[0].lower()
    assert b"\nbcc:" not in head and b"victim" not in head


def test_a_robot_that_slips_past_screening_gets_at_most_the_cap(dovecot, smtp_sink, tmp_path, classifier_ready):
    # A robot that looks like a person (no robot headers) writes 20 times: the cap ends the loop.
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/c.db", replies={"cap_per_recipient": 3})
    for i in range(20):
        dovecot.append(request_mail("Helpdesk <helpdesk@robot.example>", f"Ticket {i}: usunięcie danych",
                                    f"Proszę o usunięcie moich danych osobowych. Zgłoszenie numer {i}."))
    run_once(settings)
    run_once(settings)
    to_robot = [m for m in smtp_sink.messages() if m.rcpt_tos == ("helpdesk@robot.example",)]
    assert 1 <= len(to_robot) <= 3
    assert len(outbox_rows(settings, recipient="helpdesk@robot.example")) <= 3
    assert len(messages_of(settings)) == 20 and dovecot.folder_uids("INBOX") == []


def test_oversized_mail_is_handled_without_its_whole_body(dovecot, smtp_sink, tmp_path, classifier_ready):
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/o.db", limits={"max_message_bytes": 50_000})
    body = "Proszę o kopię moich danych osobowych (art. 15 RODO).\n" + ("To jest długi tekst załącznika. " * 20_000)
    raw = request_mail("Ewa <ewa@example.pl>", "Dostęp do danych", body)
    assert len(raw) > 500_000
    dovecot.append(raw)
    from inbox_bot.prepare import PrepareSettings, Recorded, prepare

    run_once(settings)
    (row,) = messages_of(settings)
    assert row.status == "processed" and row.size == len(raw)
    # What the classifier is given is cut: a 25 MB message is not a 25 MB feature vector.
    recorded = Recorded(row.id, row.uid, row.uidvalidity, row.received_at, row.raw)
    prepared = prepare(recorded, PrepareSettings.from_settings(settings))
    assert len(prepared.mail.full_text) <= 20_000


def test_time_limit_abandons_runaway_work_and_passes_results_through():
    started = time.monotonic()
    with pytest.raises(MessageTimeLimit):
        run_with_limit(time.sleep, 5, seconds=0.2)
    assert time.monotonic() - started < 1
    assert run_with_limit(lambda x: x * 2, 21, seconds=1) == 42
    with pytest.raises(ValueError):
        run_with_limit(int, "x", seconds=1)
    assert issubclass(MessageTimeLimit, SenderError)  # quarantined at once, not retried forever


# -- screening forms of real robots -----------------------------------------------------------------

def _screen(headers: str, body: str = "Treść wiadomości.\n") -> str:
    raw = headers.strip("\n").replace("\n", "\r\n") + "\r\n\r\n" + body.replace("\n", "\r\n")
    return screen(parse_message(raw.encode("utf-8")), CTX).verdict


@pytest.mark.parametrize("headers, expected", [
    # Exchange / Outlook out-of-office: null Return-Path, suppress header, Polish subject.
    ("From: Anna <anna@firma.pl>\nReturn-Path: <>\nX-Auto-Response-Suppress: All\n"
     "Subject: Odpowiedź automatyczna: Wniosek RODO\nAuto-Submitted: auto-generated", "auto_reply"),
    ("From: Anna <anna@firma.pl>\nReturn-Path: <>\nX-Auto-Response-Suppress: All\n"
     "X-MS-Exchange-Inbox-Rules-Loop: anna@firma.pl\nSubject: Automatic reply: Request", "auto_reply"),
    # Gmail vacation responder: Auto-Submitted and a plain subject.
    ("From: Jan <jan@gmail.com>\nAuto-Submitted: auto-replied\nSubject: Urlop\nPrecedence: bulk", "auto_reply"),
    # Zimbra: X-Zimbra auto reply with the localized subject.
    ("From: Ola <ola@zimbra.example>\nAuto-Submitted: auto-replied (zimbra; vacation)\n"
     "Subject: Odpowiedź automatyczna: Re: Zgłoszenie", "auto_reply"),
    # A Polish auto-reply with no header at all, only the subject.
    ("From: Piotr <piotr@firma.pl>\nSubject: Odpowiedź automatyczna: Wniosek", "auto_reply"),
    ("From: no-reply@sklep.example\nSubject: Twoje zamówienie", "noreply"),
    ("From: Spam Arrest <verify@spamarrest.com>\nSubject: Please confirm your message", "challenge"),
    ("From: Boxbe <notifications@boxbe.com>\nX-Boxbe-Config: 1\nSubject: Request to join my guest list", "challenge"),
    ("From: Lista <lista@lists.example>\nList-Id: <lista.lists.example>\nSubject: Newsletter", "mailing_list"),
])
def test_real_robot_forms(headers, expected):
    assert _screen(headers) == expected


def test_bounce_of_our_reply_names_our_message_id():
    from inbox_bot.parsing import bounced_message_ids

    raw = (b"From: MAILER-DAEMON@mx.example.pl\r\nSubject: Undelivered\r\nContent-Type: multipart/report; "
           b"report-type=delivery-status; boundary=b\r\nIn-Reply-To: <not-this@optingo.eu>\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/rfc822\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n"
           + __import__("base64").encodebytes(b"From: iodo@optingo.eu\r\nMessage-ID: <ack.1@optingo.eu>\r\n\r\nx\r\n")
           + b"--b--\r\n")
    assert bounced_message_ids(raw, "optingo.eu") == ("ack.1@optingo.eu",)
    assert bounced_message_ids(raw, "other.example") == ()


# -- properties ------------------------------------------------------------------------------------

_header_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_header_text, subject=_header_text, auto=st.sampled_from(["auto-replied", "auto-generated", "auto-notified"]))
def test_any_auto_submitted_mail_is_never_a_request(name, subject, auto):
    # Whatever a robot puts in its name and subject, RFC 3834 Auto-Submitted makes it a robot.
    from email.header import Header

    raw = (f"From: {Header(name, 'utf-8').encode()} <robot@example.pl>\r\n"
           f"Subject: {Header(subject, 'utf-8').encode()}\r\nAuto-Submitted: {auto}\r\n\r\nbody\r\n").encode()
    assert screen(parse_message(raw), CTX).verdict != "request"


@hsettings(max_examples=150, deadline=None)
@given(name=_header_text, subject=_header_text)
def test_decoded_headers_never_carry_line_breaks(name, subject):
    # A line break surviving decoding is what a header injection into our replies would need.
    from email.header import Header

    raw = (f"From: {Header(name, 'utf-8').encode()} <jan@example.pl>\r\n"
           f"Subject: {Header(subject, 'utf-8').encode()}\r\n\r\nbody\r\n").encode()
    mail = parse_message(raw)
    for value in (mail.subject, mail.display_name, mail.sender_header):
        assert "\r" not in value and "\n" not in value


@hsettings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_screening_any_parsed_bytes_never_raises(data):
    try:
        mail = parse_message(b"From: a@b.example\r\n" + data)
    except SenderError:
        return
    result = screen(mail, CTX)
    assert result.verdict and all(h.verdict != "error" for h in result.hits)


def test_a_bounce_of_our_acknowledgement_is_recorded_on_the_case_and_the_dpo_told(
    dovecot, smtp_sink, tmp_path, classifier_ready
):
    from inbox_bot.schema import CaseEvent
    from helpers import count

    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/b.db")
    dovecot.append(request_mail("Jan <jan@nowhere.example>", "Usunięcie danych",
                                "Proszę o usunięcie moich danych osobowych (art. 17 RODO)."))
    run_once(settings)
    (ack,) = to_requesters(smtp_sink, 1)
    before = len(smtp_sink.messages())  # the acknowledgement and any drafts to the DPO
    ack_id = parsed(ack.raw)["Message-ID"]
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.nowhere.example>\r\nTo: iodo@optingo.eu\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.nowhere.example>\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nUser unknown\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.nowhere.example\r\n\r\n"
        "Final-Recipient: rfc822; jan@nowhere.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: iodo@optingo.eu\r\nMessage-ID: {ack_id}\r\n"
        "--b--\r\n"
    ).encode()
    dovecot.append(dsn)
    run_once(settings)
    (case,) = cases_of(settings)
    assert count(settings, CaseEvent, CaseEvent.case_id == case.id, CaseEvent.kind == "bounced") == 1
    sent = smtp_sink.wait_for(before + 1)
    (alert_message,) = sent[before:]
    alert = parsed(alert_message.raw)
    assert alert_message.rcpt_tos == ("dpo@optingo.eu",) and case.reference in alert["Subject"]
    # The bounce itself is never answered.
    assert all(m.rcpt_tos[0] != "MAILER-DAEMON@mx.nowhere.example" for m in sent)
    assert len(to_requesters(smtp_sink)) == 1
