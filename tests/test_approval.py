"""The DPO's answer to a draft, read without a server: the parser, the token in the subject, authentication."""

from __future__ import annotations

import pytest

from helpers import request_mail
from inbox_bot.approval import authenticated, parse_answer, token_in_subject
from inbox_bot.parsing import parse_message

DRAFT = "Dzień dobry,\n\npotwierdzamy usunięcie Pana/Pani danych osobowych.\n\nZ poważaniem,\nIOD\n"

QUOTED_DRAFT = (
    "W dniu 24.11.2026 o 10:00, Optingo Digital <iodo@optingo.eu> pisze:\n"
    "> Projekt odpowiedzi w sprawie nr IODO-2026-00001 czeka na zatwierdzenie.\n"
    ">\n"
    "> === POCZĄTEK ODPOWIEDZI ===\n"
    + "".join(f"> {line}\n" if line else ">\n" for line in DRAFT.rstrip("\n").split("\n"))
    + "> === KONIEC ODPOWIEDZI ===\n"
)


@pytest.mark.parametrize("first", ["OK", "ok.", "Zatwierdzam", "zatwierdzam!", "Approve", "approved", "Akceptuję", "akceptuje"])
def test_approval_words_on_the_first_line_approve(first):
    # Guards against a DPO's plain "OK" in either language being read as anything else.
    assert parse_answer(f"{first}\n\n{QUOTED_DRAFT}", DRAFT).action == "approve"


def test_approval_word_inside_the_quote_does_not_approve():
    # The draft mail itself says "write OK on the first line": the quote must never approve.
    quoted = "W dniu wtorek, dpo pisze:\n> OK\n> zatwierdzam\n"
    assert parse_answer(quoted, DRAFT).action == "unclear"


def test_ok_with_a_condition_is_not_an_approval():
    # "OK but change ..." asks for a change: sending the draft unchanged would be wrong.
    assert parse_answer("OK, ale proszę zmienić drugi akapit\n\n" + QUOTED_DRAFT, DRAFT).action == "unclear"


def test_polish_rejection_keeps_the_reason():
    answer = parse_answer("Odrzucam: wnioskodawca nie jest naszym klientem.\n\n" + QUOTED_DRAFT, DRAFT)
    assert (answer.action, answer.reason) == ("reject", "wnioskodawca nie jest naszym klientem.")


def test_english_rejection_with_the_reason_on_the_next_lines():
    answer = parse_answer("Reject\nThe data is kept for tax reasons.\nSee art. 17(3)(b).\n\n" + QUOTED_DRAFT, DRAFT)
    assert answer.action == "reject"
    assert answer.reason == "The data is kept for tax reasons.\nSee art. 17(3)(b)."


def test_edit_inside_the_quoted_markers_is_an_edit_even_under_ok():
    # A DPO who edits the quoted text and writes OK approves what they wrote, not the old text.
    edited = QUOTED_DRAFT.replace("potwierdzamy usunięcie", "potwierdzamy dziś usunięcie")
    answer = parse_answer("OK\n\n" + edited, DRAFT)
    assert answer.action == "edit"
    assert "potwierdzamy dziś usunięcie" in answer.text
    assert ">" not in answer.text  # the quote marks are not part of the letter


def test_rewrapped_quote_is_not_an_edit():
    # Mail clients re-wrap quoted lines; a changed line break alone must not count as an edit.
    rewrapped = QUOTED_DRAFT.replace("> potwierdzamy usunięcie Pana/Pani danych osobowych.",
                                     "> potwierdzamy usunięcie Pana/Pani\n> danych osobowych.")
    assert parse_answer("zatwierdzam\n\n" + rewrapped, DRAFT).action == "approve"


def test_english_markers_copied_above_the_quote():
    text = "=== BEGIN REPLY ===\nHello,\n\nyour data has been erased.\n=== END REPLY ===\n\n" + QUOTED_DRAFT
    answer = parse_answer(text, DRAFT)
    assert (answer.action, answer.text) == ("edit", "Hello,\n\nyour data has been erased.")


def test_whole_letter_above_the_quote_is_an_edit():
    text = "Dzień dobry,\n\npotwierdzamy usunięcie danych z systemu CRM.\n\nZ poważaniem,\nIOD\n\n" + QUOTED_DRAFT
    answer = parse_answer(text, DRAFT)
    assert answer.action == "edit"
    assert answer.text.startswith("Dzień dobry,") and "CRM" in answer.text


def test_a_remark_above_the_quote_is_not_a_letter():
    # A note to us ("change paragraph 2, then send") must never reach the requester as their reply.
    text = "Proszę zmienić drugi akapit.\nPotem wysłać.\nDzięki\n\n" + QUOTED_DRAFT
    assert parse_answer(text, DRAFT).action == "unclear"


def test_outlook_style_quote_without_marks():
    text = "Approve\n\n-----Original Message-----\nFrom: iodo@optingo.eu\nOK\n"
    assert parse_answer(text, DRAFT).action == "approve"


def test_token_is_read_from_a_reply_subject():
    subject = "Re: [IODO-2026-00001] Do zatwierdzenia: potwierdzenie usunięcia danych (token ABCDEFGHJK234567)"
    assert token_in_subject(subject) == "ABCDEFGHJK234567"
    # Lower case after a client's mangling still counts; a token of the wrong length does not.
    assert token_in_subject("odp: (token abcdefghjk234567)") == "ABCDEFGHJK234567"
    assert token_in_subject("(token ABCDEFGHJK23456)") is None


def _dpo_mail(results: list[str], sender: str = "dpo@optingo.eu"):
    headers = {"Authentication-Results": results[0]} if results else {}
    raw = request_mail(sender, "Re: (token ABCDEFGHJK234567)", "OK\n", extra_headers=headers)
    for extra in results[1:]:
        raw = f"Authentication-Results: {extra}\r\n".encode() + raw
    return parse_message(raw)


def test_dkim_pass_from_our_own_server_authenticates():
    mail = _dpo_mail(["mx.optingo.eu; dkim=pass header.d=optingo.eu header.s=s1; spf=fail smtp.mailfrom=optingo.eu"])
    assert authenticated(mail, "mx.optingo.eu", "dpo@optingo.eu")[0] is True


def test_spf_pass_alone_authenticates():
    mail = _dpo_mail(["mx.optingo.eu; spf=pass smtp.mailfrom=dpo@optingo.eu"])
    assert authenticated(mail, "mx.optingo.eu", "dpo@optingo.eu")[0] is True


def test_a_pass_written_by_another_server_does_not_count():
    # Anyone can write Authentication-Results; only our own server's verdict is evidence.
    mail = _dpo_mail(["mx.attacker.example; dkim=pass header.d=optingo.eu"])
    ok, why = authenticated(mail, "mx.optingo.eu", "dpo@optingo.eu")
    assert ok is False and "no Authentication-Results" in why


def test_a_pass_for_another_domain_does_not_count():
    mail = _dpo_mail(["mx.optingo.eu; dkim=pass header.d=attacker.example; spf=softfail smtp.mailfrom=optingo.eu"])
    assert authenticated(mail, "mx.optingo.eu", "dpo@optingo.eu")[0] is False


def test_failures_do_not_authenticate():
    mail = _dpo_mail(["mx.optingo.eu; dkim=fail header.d=optingo.eu; spf=fail smtp.mailfrom=optingo.eu"])
    assert authenticated(mail, "mx.optingo.eu", "dpo@optingo.eu")[0] is False


def test_no_configured_authserv_id_never_authenticates():
    mail = _dpo_mail(["mx.optingo.eu; dkim=pass header.d=optingo.eu"])
    assert authenticated(mail, None, "dpo@optingo.eu")[0] is False
