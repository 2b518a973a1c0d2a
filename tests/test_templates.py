"""Every kind of outgoing text renders in Polish and English, and refuses a missing variable."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jinja2
import pytest

from inbox_bot.compose import KINDS, REPLY_MARKERS, available_languages, label_names, render
from inbox_bot.values import LABELS

UTC = timezone.utc
RECEIVED = datetime(2026, 11, 23, 9, 15, tzinfo=UTC)
DUE = datetime(2026, 12, 28, 22, 59, 59, tzinfo=UTC)  # end of 28 Dec 2026 in Warsaw
NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
REF = "IODO-2026-00042"

BASE = {
    "organisation": "Optingo Digital Sp. z o.o.",
    "contact": "iodo@optingo.eu",
    "reference": REF,
    "received_at": RECEIVED,
    "labels": ["access", "erasure"],
}
ITEM = {"reference": REF, "labels": ["access"], "status": "acknowledged", "due_at": DUE, "received_at": RECEIVED}
SECTIONS = (
    "overdue", "due_soon", "extension_notices_owed", "drafts_awaiting",
    "waiting_for_requester", "breach_clocks", "triage", "new_since_last",
)  # fmt: skip

# A full context per kind: what each template's opening comment documents.
FULL = {
    "acknowledgement": {**BASE, "triage": False, "due_at": DUE},
    "optout_confirmation": {**BASE, "address": "jan@example.pl", "suppressed_at": RECEIVED},
    "digest": {"organisation": "Optingo Digital Sp. z o.o.", "generated_at": NOW, "sections": {k: [ITEM] for k in SECTIONS}},
    "identity_request": {**BASE, "details": None, "clock_paused": True},
    "extension_notice": {**BASE, "reason": "Duża liczba żądań", "original_due_at": DUE, "new_due_at": DUE + timedelta(days=60)},
    "rectification_done": {**BASE, "details": "adres korespondencyjny", "recipients": ["Kurier Sp. z o.o."]},
    "erasure_done": {**BASE, "retained": None, "recipients": []},
    "restriction_done": {**BASE, "details": None, "recipients": None},
    "access_reply": {**BASE},
    "refusal": {**BASE, "reasons": None},
    "objection_reply": {**BASE, "upheld": None, "details": None, "grounds": None},
    "complaint_reply": {**BASE, "response": None},
    "portability_reply": {**BASE, "data_format": "CSV", "transmitted_to": None},
    "breach_alert": {**BASE, "breach_due_at": RECEIVED + timedelta(hours=72), "requester": "jan@example.pl", "excerpt": "Wyciek bazy"},
    "draft_for_approval": {**BASE, "token": "a1b2c3d4", "draft_kind": "erasure_done", "requester": "jan@example.pl",
                           "draft_subject": f"Usunięcie danych [{REF}]", "draft_text": "Dzień dobry,\n\ntreść", "due_at": DUE},
}  # fmt: skip

# Variables whose absence must fail, per kind (one is enough to prove StrictUndefined is on).
MUST_FAIL_WITHOUT = {kind: "reference" for kind in KINDS} | {"digest": "generated_at"}


def test_both_languages_are_present():
    assert {"pl", "en"} <= available_languages()


@pytest.mark.parametrize("language", ["pl", "en"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_with_a_full_context(kind, language):
    out = render(kind, language, FULL[kind])
    # A template that silently printed nothing, or left a Jinja tag, would pass a weaker test.
    assert out.subject and "\n" not in out.subject
    assert len(out.text) > 80
    assert "{{" not in out.text and "{%" not in out.text
    if kind != "digest":
        assert REF in out.subject  # the reference threads the requester's answer back


@pytest.mark.parametrize("language", ["pl", "en"])
@pytest.mark.parametrize("kind", KINDS)
def test_missing_variable_is_an_error_not_a_blank(kind, language):
    context = dict(FULL[kind])
    del context[MUST_FAIL_WITHOUT[kind]]
    with pytest.raises(jinja2.UndefinedError):
        render(kind, language, context)


@pytest.mark.parametrize("language", ["pl", "en"])
def test_unknown_label_is_an_error(language):
    # A typo in a label must not print an empty bullet in a letter to a requester.
    with pytest.raises(jinja2.UndefinedError):
        render("acknowledgement", language, {**FULL["acknowledgement"], "labels": ["acess"]})


def test_every_label_has_plain_words_in_both_languages():
    for language in ("pl", "en"):
        assert set(label_names(language)) == set(LABELS)


def test_polish_acknowledgement_has_reference_dates_and_no_name():
    out = render("acknowledgement", "pl", {**FULL["acknowledgement"]})
    assert REF in out.text
    assert "23 listopada 2026 r." in out.text  # date of receipt
    assert "28 grudnia 2026 r." in out.text  # due date, in the Polish letter format
    assert "prawo" not in out.subject
    assert "dostęp do danych osobowych" in out.text and "usunięcie danych" in out.text
    assert "iodo@optingo.eu" in out.text  # who to contact
    assert "r.." not in out.text  # "r." closing a sentence takes no second full stop


def test_acknowledgement_carries_no_personal_data_of_the_requester():
    # The context has no name or quoted text, and the template must not ask for them: adding a
    # requester's name to the context must not make it appear in the acknowledgement.
    ctx = {**FULL["acknowledgement"], "requester_name": "Jan Kowalski", "quoted": "Moje PESEL 85010112345"}
    for language in ("pl", "en"):
        out = render("acknowledgement", language, ctx)
        assert "Kowalski" not in out.text and "85010112345" not in out.text


def test_english_acknowledgement_dates():
    out = render("acknowledgement", "en", FULL["acknowledgement"])
    assert "23 November 2026" in out.text and "28 December 2026" in out.text
    assert "Article 12(3)" in out.text


@pytest.mark.parametrize("language", ["pl", "en"])
def test_generic_acknowledgement_for_triage_and_other(language):
    for ctx in ({**FULL["acknowledgement"], "triage": True}, {**FULL["acknowledgement"], "labels": ["other"]}):
        out = render("acknowledgement", language, ctx)
        # No guessed request types in plain words, but the reference and the deadline stay.
        assert "dostęp do danych osobowych" not in out.text
        assert "access to your personal data" not in out.text
        assert REF in out.text
        assert ("28 grudnia 2026 r." if language == "pl" else "28 December 2026") in out.text


def test_breach_report_acknowledgement_thanks_and_promises_no_date():
    out = render("acknowledgement", "pl", {**FULL["acknowledgement"], "labels": ["breach_report"], "due_at": None})
    assert "Dziękujemy za zgłoszenie" in out.text
    assert "grudnia" not in out.text
    assert "zgłoszenia" in out.subject


def test_acknowledgement_due_date_in_summer_time_is_the_local_date():
    # 21:59:59 UTC on 30 April is 23:59:59 in Warsaw on 30 April; printing the UTC date would
    # be right here, but 22:30 UTC on 30 June is 1 July in Warsaw: the letter must say 1 July.
    ctx = {**FULL["acknowledgement"], "received_at": datetime(2026, 6, 30, 22, 30, tzinfo=UTC)}
    assert "1 lipca 2026 r." in render("acknowledgement", "pl", ctx).text


def test_refusal_names_the_remedies_of_article_12_4():
    pl = render("refusal", "pl", FULL["refusal"]).text
    assert "Prezesa Urzędu Ochrony Danych Osobowych" in pl and "ul. Stawki 2, 00-193 Warszawa" in pl
    assert "art. 79 RODO" in pl and "[[DO UZUPEŁNIENIA:" in pl
    en = render("refusal", "en", FULL["refusal"]).text
    assert "ul. Stawki 2, 00-193 Warszawa" in en and "judicial remedy" in en and "[[TO FILL IN:" in en


@pytest.mark.parametrize(("language", "marker"), [("pl", "[[DO UZUPEŁNIENIA:"), ("en", "[[TO FILL IN:")])
def test_access_reply_covers_article_15(language, marker):
    text = render("access_reply", language, FULL["access_reply"]).text
    if language == "pl":
        points = ["lit. a", "lit. b", "lit. c", "lit. d", "lit. e", "lit. f", "lit. g", "lit. h"]
    else:
        points = ["15(1)(a)", "point (b)", "point (c)", "point (d)", "point (e)", "point (f)", "point (g)", "point (h)"]
    for point in points:
        assert point in text, point
    assert ("art. 15 ust. 2" if language == "pl" else "Article 15(2)") in text
    assert ("art. 15 ust. 3" if language == "pl" else "Article 15(3)") in text
    assert text.count(marker) >= 7  # every variable point leaves a marked place for the DPO


@pytest.mark.parametrize("kind", ["rectification_done", "erasure_done", "restriction_done"])
def test_confirmations_carry_the_article_19_note(kind):
    for recipients in (None, [], ["Kurier Sp. z o.o."]):
        pl = render(kind, "pl", {**FULL[kind], "recipients": recipients}).text
        en = render(kind, "en", {**FULL[kind], "recipients": recipients}).text
        if recipients is None:
            assert "[[DO UZUPEŁNIENIA:" in pl and "[[TO FILL IN:" in en
        else:
            assert "art. 19 RODO" in pl and "Article 19 GDPR" in en
        if recipients:
            assert "Kurier Sp. z o.o." in pl and "Kurier Sp. z o.o." in en


def test_extension_notice_has_reason_and_both_dates():
    out = render("extension_notice", "pl", FULL["extension_notice"]).text
    assert "Duża liczba żądań" in out and "28 grudnia 2026 r." in out and "26 lutego 2027 r." in out
    blank = render("extension_notice", "pl", {**FULL["extension_notice"], "reason": "  "}).text
    assert "[[DO UZUPEŁNIENIA:" in blank  # an empty reason is a place to fill, not a blank


@pytest.mark.parametrize("language", ["pl", "en"])
def test_draft_for_approval_shows_token_reference_and_the_draft_between_markers(language):
    out = render("draft_for_approval", language, FULL["draft_for_approval"])
    markers = REPLY_MARKERS[language]
    assert REF in out.subject and "a1b2c3d4" in out.subject
    begin = out.text.index(markers.begin + "\n")
    end = out.text.index("\n" + markers.end)
    assert out.text[begin + len(markers.begin) + 1 : end] == "Dzień dobry,\n\ntreść"
    for word in ("OK", "zatwierdzam", "approve", "odrzucam", "reject"):
        assert word in out.text


@pytest.mark.parametrize("language", ["pl", "en"])
def test_digest_lists_every_section_in_text_and_html(language):
    out = render("digest", language, FULL["digest"])
    assert out.html is not None and "<table" in out.html
    assert out.text.count(REF) == len(SECTIONS)
    assert out.html.count(REF) == len(SECTIONS)


def test_digest_counts_days_on_the_local_calendar_and_flags_overdue():
    item = {**ITEM, "due_at": datetime(2026, 11, 27, 22, 59, 59, tzinfo=UTC)}  # 27 Nov, Warsaw
    ctx = {**FULL["digest"], "sections": {k: [] for k in SECTIONS} | {"overdue": [item]}}
    pl = render("digest", "pl", ctx).text
    assert "po terminie od 4 dni" in pl  # 1 Dec - 27 Nov
    assert "brak" in pl  # the empty sections say so
    en = render("digest", "en", ctx).text
    assert "overdue by 4 days" in en


def test_digest_html_escapes_what_it_shows():
    # Autoescape is on for .html templates: a note with markup must not become markup.
    ctx = {**FULL["digest"], "sections": {k: [] for k in SECTIONS} | {"triage": [{**ITEM, "note": "<script>x</script>"}]}}
    out = render("digest", "en", ctx)
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert "<script>x</script>" in out.text  # plain text is not escaped


def test_breach_alert_shows_the_72_hour_deadline_in_local_time():
    out = render("breach_alert", "pl", FULL["breach_alert"])
    # 09:15 UTC on 26 Nov is 10:15 in Warsaw (CET).
    assert "26 listopada 2026 r., godz. 10:15" in out.subject
    assert "art. 33 ust. 1 RODO" in out.text


def test_templates_dir_can_be_overridden_by_environment(tmp_path, monkeypatch):
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "acknowledgement.subject.j2").write_text("Eingang [{{ reference }}]")
    (tmp_path / "de" / "acknowledgement.txt.j2").write_text("Hallo {{ reference }}")
    monkeypatch.setenv("INBOX_BOT_TEMPLATES", str(tmp_path))
    assert available_languages() == {"de"}
    assert render("acknowledgement", "de", {"reference": REF}).subject == f"Eingang [{REF}]"
