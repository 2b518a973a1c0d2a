"""Screening rules, one literal message per rule, and the real person's mail that must pass."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from inbox_bot.config import from_dict
from inbox_bot.parsing import parse_message
from inbox_bot.screening import RULES, ScreenContext, screen

CTX = ScreenContext(
    own_address="iodo@optingo.eu",
    own_domain="optingo.eu",
    message_id_domain="optingo.eu",
    dpo_addresses=("dpo@optingo.eu",),
)
TRUSTED = ScreenContext(
    own_address="iodo@optingo.eu",
    own_domain="optingo.eu",
    message_id_domain="optingo.eu",
    dpo_addresses=("dpo@optingo.eu",),
    trusted_authserv_id="mx.optingo.eu",
)


def mail(headers: str, body: str = "Dzień dobry, proszę o usunięcie moich danych.\n"):
    if "From:" not in headers:
        headers = "From: Jan Kowalski <jan@example.pl>\n" + headers
    raw = headers.strip("\n").replace("\n", "\r\n") + "\r\n\r\n" + body.replace("\n", "\r\n")
    return parse_message(raw.encode("utf-8"))


def verdict(headers: str, body: str = "Dzień dobry, proszę o usunięcie moich danych.\n", ctx=CTX) -> str:
    return screen(mail(headers, body), ctx).verdict


def test_person_is_a_request():
    assert verdict("To: iodo@optingo.eu\nSubject: Usunięcie danych\nMessage-ID: <1@example.pl>") == "request"


def test_person_replying_to_our_acknowledgement_is_a_request():
    # The reply quotes our subject and our Message-ID; it is still the person's mail.
    headers = "Subject: Re: Automatyczna odpowiedź [IODO-2026-00042]\nIn-Reply-To: <ack-1@optingo.eu>"
    assert verdict(headers) == "request"


def test_outlook_suppress_header_alone_is_not_an_auto_reply():
    # Outlook/Exchange add X-Auto-Response-Suppress to ordinary mail; a request must not vanish.
    assert verdict("Subject: Dane\nX-Auto-Response-Suppress: All") == "request"


def test_refund_subject_alone_is_not_a_bounce():
    # "Zwrot" also means a refund; a customer's subject alone does not make a bounce.
    assert verdict("Subject: Zwrot towaru i moje dane") == "request"


@pytest.mark.parametrize(
    "headers, body, expected, rule",
    [
        ("X-Inbox-Bot-Loop: 1\nSubject: x", "x", "own_mail", "loop_header"),
        ("From: iodo@optingo.eu\nSubject: x", "x", "own_mail", "own_address"),
        ("From: anna@optingo.eu\nMessage-ID: <0123456789abcdef0123456789abcdef@optingo.eu>", "x", "own_mail", "own_message_id"),
        ("From: DPO <dpo@optingo.eu>\nSubject: approve", "x", "spoof", "spoof"),
        (
            'From: MAILER-DAEMON@mx.example.com\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"',
            "--b\nContent-Type: text/plain\n\nfailed\n--b\nContent-Type: message/delivery-status\n\nAction: failed\n--b--\n",
            "bounce",
            "delivery_status",
        ),
        ("From: Mail Delivery Subsystem <MAILER-DAEMON>\nSubject: x", "x", "bounce", "bounce_sender"),
        ("X-Failed-Recipients: x@example.org\nSubject: x", "x", "bounce", "failed_recipients"),
        ("Return-Path: <>\nSubject: Niedostarczona wiadomość", "x", "bounce", "bounce_subject"),
        ("Subject: Undelivered Mail Returned to Sender", "550 5.1.1 user unknown", "bounce", "bounce_subject"),
        ("Return-Path: <>\nSubject: Hello", "Your message could not be delivered.", "bounce", "null_return_path"),
        (
            'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"',
            "--b\nContent-Type: text/plain\n\nread\n--b\nContent-Type: message/disposition-notification\n\n"
            "Disposition: manual-action/MDN-sent-manually; displayed\n--b--\n",
            "read_receipt",
            "read_receipt",
        ),
        ("Auto-Submitted: auto-replied\nSubject: Re: x", "x", "auto_reply", "auto_submitted"),
        ("X-Autoreply: yes\nSubject: x", "x", "auto_reply", "auto_reply_header"),
        ("X-Autorespond: yes\nSubject: x", "x", "auto_reply", "auto_reply_header"),
        ("Precedence: junk\nSubject: x", "x", "auto_reply", "precedence_bulk"),
        ("X-Auto-Response-Suppress: All\nReturn-Path: <>\nSubject: x", "x", "auto_reply", "auto_response_suppress"),
        ("Subject: Automatyczna odpowiedź: Usunięcie danych", "x", "auto_reply", "auto_reply_subject"),
        ("Subject: Out of Office: Data request", "x", "auto_reply", "auto_reply_subject"),
        ("Subject: Nieobecność w biurze", "x", "auto_reply", "auto_reply_subject"),
        ("Subject: Abwesenheitsnotiz: Anfrage", "x", "auto_reply", "auto_reply_subject"),
        ("Subject: Auto: Anfrage", "x", "auto_reply", "auto_reply_subject"),
        ("From: Boxbe <noreply@boxbe.com>\nSubject: Please confirm your message", "x", "challenge", "challenge"),
        ("List-Id: <news.optingo.example>\nSubject: x", "x", "mailing_list", "mailing_list"),
        ("List-Unsubscribe: <mailto:u@example.com>\nSubject: x", "x", "mailing_list", "mailing_list"),
        ("Precedence: list\nSubject: x", "x", "mailing_list", "mailing_list"),
        ("From: Shop <no-reply@shop.example.com>\nSubject: x", "x", "noreply", "noreply"),
        ("From: donotreply@bank.example.com\nSubject: x", "x", "noreply", "noreply"),
    ],
)
def test_each_rule_hits(headers, body, expected, rule):
    result = screen(mail(headers, body), CTX)
    assert result.verdict == expected
    assert rule in [h.rule for h in result.hits]


def test_all_hits_are_kept_for_audit():
    result = screen(mail("From: noreply@shop.example.com\nAuto-Submitted: auto-generated\nList-Id: <x>"), CTX)
    assert result.verdict == "auto_reply"
    assert {"auto_submitted", "mailing_list", "noreply"} <= {h.rule for h in result.hits}


def test_spoof_with_trusted_authserv():
    # Anyone may write an Authentication-Results header; only our server's one counts.
    forged = "From: dpo@optingo.eu\nAuthentication-Results: evil.example; dkim=pass header.d=optingo.eu"
    assert verdict(forged, ctx=TRUSTED) == "spoof"
    genuine = "From: dpo@optingo.eu\nAuthentication-Results: mx.optingo.eu; dkim=pass header.d=optingo.eu"
    assert verdict(genuine, ctx=TRUSTED) == "request"
    misaligned = "From: anna@optingo.eu\nAuthentication-Results: mx.optingo.eu; dkim=pass header.d=evil.example"
    assert verdict(misaligned, ctx=TRUSTED) == "spoof"
    own = "From: iodo@optingo.eu\nAuthentication-Results: mx.optingo.eu; spf=pass smtp.mailfrom=iodo@optingo.eu"
    assert verdict(own, ctx=TRUSTED) == "own_mail"


def test_without_authserv_colleagues_are_people_and_authenticated_dpo_passes():
    assert verdict("From: anna@optingo.eu") == "request"
    assert verdict("From: dpo@optingo.eu\nAuthentication-Results: any; dkim=pass header.d=optingo.eu") == "request"


def test_context_from_settings():
    settings = from_dict(
        {
            "organisation": {"name": "O", "address": "IODO@Optingo.eu", "dpo": ["DPO@optingo.eu"]},
            "approval": {"authserv_id": "mx.optingo.eu"},
        }
    )
    ctx = ScreenContext.from_settings(settings)
    assert ctx.own_address == "iodo@optingo.eu"
    assert ctx.own_domain == "optingo.eu"
    assert ctx.dpo_addresses == ("dpo@optingo.eu",)
    assert ctx.trusted_authserv_id == "mx.optingo.eu"
    assert ctx.loop_header == "X-Inbox-Bot-Loop"


def test_rule_table_names_are_unique_and_described():
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    assert all(r.description and r.verdict for r in RULES)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(
    st.sampled_from(["Subject", "From", "Auto-Submitted", "Precedence", "Return-Path", "Authentication-Results",
                     "X-Auto-Response-Suppress", "List-Id", "Message-ID", "Content-Type"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=80),
))
def test_screen_never_raises(headers):
    raw = "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "X-Any: 1\r\n\r\nbody\r\n"
    result = screen(parse_message(raw.encode("utf-8")), TRUSTED)
    assert isinstance(result.verdict, str) and result.verdict
    assert all(h.verdict != "error" for h in result.hits)
