"""The pure decision: what to do with a message, from values alone."""

from __future__ import annotations

from datetime import datetime, timezone

from inbox_bot.decide import Policy, ThreadedCase, decide, looks_like_reminder
from inbox_bot.values import Classification, InboundMail, ScreenResult


def mail(subject="Wniosek", text="Proszę o kopię moich danych.", sender="jan@example.pl") -> InboundMail:
    return InboundMail(
        message_id="m1@example.pl", sender=sender, sender_header=sender or "", display_name="", reply_to=None,
        return_path=None, recipients=("iodo@optingo.eu",), subject=subject, text=text, full_text=text,
        language="pl", in_reply_to=None, references=(), headers=(), content_type="text/plain",
        report_type=None, part_types=("text/plain",), attachments=(), date=datetime.now(timezone.utc), size=100,
    )


REQUEST = ScreenResult("request")


def labels(*names, triage=False, confidence=0.9):
    return Classification(labels=names, confidence=confidence, language="pl", triage=triage)


def test_robots_are_ignored_whatever_the_classifier_says():
    decision = decide(mail(), ScreenResult("auto_reply"), None, labels("access"))
    assert decision.action == "ignore" and decision.replies == ()


def test_a_request_opens_a_case_with_an_acknowledgement():
    decision = decide(mail(), REQUEST, None, labels("access", "erasure"))
    assert decision.action == "open_case" and [r.kind for r in decision.replies] == ["acknowledgement"]
    assert not decision.suppress


def test_an_optout_alone_is_confirmed_not_acknowledged_and_suppressed():
    decision = decide(mail(), REQUEST, None, labels("marketing_optout"))
    assert [r.kind for r in decision.replies] == ["optout_confirmation"] and decision.suppress


def test_other_mail_opens_nothing_unless_configured():
    assert decide(mail(), REQUEST, None, labels("other")).action == "ignore"
    assert decide(mail(), REQUEST, None, labels("other"), Policy(acknowledge_other=True)).action == "open_case"


def test_low_confidence_goes_to_triage_with_a_generic_acknowledgement():
    decision = decide(mail(), REQUEST, None, labels("complaint", triage=True, confidence=0.3))
    assert decision.action == "triage" and [r.kind for r in decision.replies] == ["acknowledgement"]


def test_no_valid_sender_means_triage_and_nobody_to_answer():
    decision = decide(mail(sender=None), REQUEST, None, labels("access"))
    assert decision.action == "triage" and decision.replies == ()


def test_a_follow_up_attaches_and_sends_nothing_new():
    case = ThreadedCase("IODO-2026-00001", "acknowledged", ("access",), "jan@example.pl", "subject")
    decision = decide(mail(subject="Re: [IODO-2026-00001]"), REQUEST, case, labels("access"))
    assert decision.action == "attach" and decision.case_reference == "IODO-2026-00001"
    assert decision.replies == ()


def test_a_reminder_without_the_reference_is_a_raised_duplicate():
    # "Still no answer" from the same requester about the same right must not open a second case.
    case = ThreadedCase("IODO-2026-00001", "acknowledged", ("access",), "jan@example.pl", "duplicate")
    decision = decide(mail(text="Minął miesiąc i nadal nie dostałem kopii moich danych."), REQUEST, case, labels("access"))
    assert decision.action == "attach" and set(decision.flags) == {"duplicate", "reminder"}
    plain = decide(mail(text="Proszę o kopię moich danych."), REQUEST, case, labels("access"))
    assert plain.flags == ("duplicate",)


def test_a_reply_to_a_closed_case_reopens_it():
    case = ThreadedCase("IODO-2026-00001", "closed", ("erasure",), "jan@example.pl", "in_reply_to")
    assert decide(mail(), REQUEST, case, labels("erasure")).flags == ("reopened",)


def test_a_thank_you_after_the_answer_does_not_reopen_but_anything_unsure_does():
    # Guards against "dziękuję" reopening a finished case (its register outcome withdrawn, back on
    # the DPO's list), and against the opposite error: an unsure classification must reopen.
    case = ThreadedCase("IODO-2026-00001", "answered", ("access",), "jan@example.pl", "in_reply_to")
    thanks = mail("Re: [IODO-2026-00001] Odpowiedź", "Dziękuję bardzo, wszystko otrzymałem.")
    assert decide(thanks, REQUEST, case, labels("other")).flags == ("after_close",)
    assert decide(thanks, REQUEST, case, labels("other", triage=True, confidence=0.3)).flags == ("reopened",)
    assert decide(thanks, REQUEST, case, labels("complaint")).flags == ("reopened",)
    assert decide(thanks, REQUEST, case, None).flags == ("reopened",)


def test_reminder_words_in_polish_and_english():
    assert looks_like_reminder("Ponaglenie: wniosek z 3 października")
    assert looks_like_reminder("I still haven't received a reply to my request")
    assert not looks_like_reminder("Proszę o usunięcie moich danych.")
