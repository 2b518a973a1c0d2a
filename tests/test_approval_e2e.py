"""Approval by mail end to end: real Dovecot, real aiosmtpd, SQLite.

A request opens a case and is acknowledged by itself; its substantive reply reaches the DPO as a
draft; the DPO's answer, appended to the mailbox as their mail client would send it, is the only
thing that lets the reply go to the requester.
"""

from __future__ import annotations

from email.utils import make_msgid

from sqlalchemy import select

from helpers import body_text, cases_of, outbox_rows, parsed, request_mail, run_once, settings_for
from inbox_bot import drafts
from inbox_bot.database import Database
from inbox_bot.schema import Case, CaseEvent, Draft

REQUESTER = "anna.nowak@example.pl"
ERASURE = request_mail(f"Anna Nowak <{REQUESTER}>", "Usunięcie danych",
                       "Proszę o trwałe usunięcie moich danych osobowych i potwierdzenie usunięcia.")
GOOD_AUTH = "mx.optingo.eu; dkim=pass header.d=optingo.eu header.s=s1; spf=pass smtp.mailfrom=dpo@optingo.eu"
FILLED = "Dane nie były ujawniane żadnym odbiorcom."


def _settings(dovecot, sink, tmp_path, **approval):
    return settings_for(dovecot, sink, f"sqlite:///{tmp_path / 'e2e.db'}",
                        cases={"identity_required": []}, **({"approval": approval} if approval else {}))


def _with_session(settings, work):
    db = Database(settings.database.url)
    try:
        with db.transaction() as session:
            return work(session)
    finally:
        db.dispose()


def _draft_mail_for_dpo(dovecot, sink, settings):
    """Run the request through, make sure its drafts exist, deliver them; the DPO's copy of the erasure draft."""
    dovecot.append(ERASURE)
    run_once(settings)
    # Idempotent: a no-op once the pipeline creates drafts for new cases itself.
    _with_session(settings, lambda s: [drafts.drafts_for_new_case(s, settings, c) for c in s.execute(select(Case)).scalars()])
    run_once(settings)
    mails = [parsed(m.raw) for m in sink.messages() if m.rcpt_tos == ("dpo@optingo.eu",)]
    return next(m for m in mails if "usunię" in str(m["Subject"]).lower() or "erasure" in body_text(m.as_bytes()))


def _answer(draft_mail, body: str, *, sender: str = "dpo@optingo.eu", auth: str | None = GOOD_AUTH, subject: str | None = None) -> bytes:
    """The DPO's reply as a mail client writes it: Re: subject, threading headers, the draft quoted."""
    quoted = "\n".join("> " + line if line else ">" for line in body_text(draft_mail.as_bytes()).splitlines())
    headers = {"In-Reply-To": draft_mail["Message-ID"], "References": draft_mail["Message-ID"]}
    if auth:
        headers["Authentication-Results"] = auth
    return request_mail(sender, subject or f"Re: {draft_mail['Subject']}", f"{body}\n\nW dniu wtorek IOD pisze:\n{quoted}\n",
                        message_id=make_msgid(domain="mail.example.net"), extra_headers=headers)


def _to_requester(sink):
    return [parsed(m.raw) for m in sink.messages() if m.rcpt_tos == (REQUESTER,)]


def _events(settings, kind):
    return _with_session(settings, lambda s: [(e.actor, dict(e.detail)) for e in s.execute(
        select(CaseEvent).where(CaseEvent.kind == kind).order_by(CaseEvent.id)).scalars()])


def test_acknowledgement_goes_by_itself_and_the_draft_waits_for_the_dpo(dovecot, smtp_sink, tmp_path, classifier_ready):
    settings = _settings(dovecot, smtp_sink, tmp_path)
    draft_mail = _draft_mail_for_dpo(dovecot, smtp_sink, settings)
    reference = cases_of(settings)[0].reference
    to_requester = _to_requester(smtp_sink)
    # Only the acknowledgement reached the requester; the erasure confirmation is still a draft.
    assert len(to_requester) == 1 and to_requester[0]["Auto-Submitted"] == "auto-replied"
    assert reference in str(draft_mail["Subject"]) and "token" in str(draft_mail["Subject"])
    assert _with_session(settings, lambda s: [d.status for d in s.execute(select(Draft)).scalars()]) == ["pending"]


def test_edited_reply_goes_out_threaded_with_the_edit_and_once(dovecot, smtp_sink, tmp_path, classifier_ready):
    settings = _settings(dovecot, smtp_sink, tmp_path)
    draft_mail = _draft_mail_for_dpo(dovecot, smtp_sink, settings)
    request_id = parsed(ERASURE)["Message-ID"]
    case = cases_of(settings)[0]
    text = body_text(draft_mail.as_bytes())
    begin, end = "=== POCZĄTEK ODPOWIEDZI ===", "=== KONIEC ODPOWIEDZI ==="
    letter = text.split(f"\n{begin}\n")[1].split(f"\n{end}")[0].strip("\n")
    edited = drafts._PLACEHOLDER.sub(FILLED, letter)
    answer = _answer(draft_mail, f"{begin}\n{edited}\n{end}")
    dovecot.append(answer)
    run_once(settings)

    replies = _to_requester(smtp_sink)
    assert len(replies) == 2  # the acknowledgement and the approved reply
    reply = replies[-1]
    assert FILLED in body_text(reply.as_bytes())
    assert reply["In-Reply-To"] == request_id and request_id in reply["References"]
    assert case.reference in str(reply["Subject"])
    assert _events(settings, "draft_edited")[0][1]["final_text"].strip() == edited.strip()

    # The same answer again (a client resending it, or a second DPO): nothing more is sent.
    dovecot.append(_answer(draft_mail, "OK"))
    run_once(settings)
    assert len(_to_requester(smtp_sink)) == 2
    assert any("already sent" in d["reason"] for _, d in _events(settings, "approval_refused"))


def test_ok_to_a_complete_draft_sends_it_and_ok_to_places_to_fill_does_not(dovecot, smtp_sink, tmp_path, classifier_ready):
    settings = _settings(dovecot, smtp_sink, tmp_path)
    draft_mail = _draft_mail_for_dpo(dovecot, smtp_sink, settings)
    dovecot.append(_answer(draft_mail, "Zatwierdzam"))
    run_once(settings)
    # The draft still has "[[DO UZUPEŁNIENIA ...]]": the DPO is told, the requester gets nothing.
    assert len(_to_requester(smtp_sink)) == 1
    assert "fill in" in _events(settings, "approval_refused")[-1][1]["reason"]
    assert outbox_rows(settings, kind="approval_alert")

    # The DPO fills the places on the command line; the new draft mail comes under a new token.
    def fill(session):
        draft = session.execute(select(Draft)).scalars().one()
        drafts.revise(session, settings, draft, drafts._PLACEHOLDER.sub(FILLED, draft.body), actor="cli")
        return draft.dpo_message_id
    new_id = _with_session(settings, fill)
    run_once(settings)
    new_mail = next(parsed(m.raw) for m in smtp_sink.messages() if parsed(m.raw)["Message-ID"] == f"<{new_id}>")
    dovecot.append(_answer(new_mail, "OK"))
    run_once(settings)
    replies = _to_requester(smtp_sink)
    assert len(replies) == 2 and FILLED in body_text(replies[-1].as_bytes())
    assert _events(settings, "draft_approved")[0][0] == "dpo@optingo.eu"


def test_wrong_token_outside_sender_and_failed_authentication_send_nothing(dovecot, smtp_sink, tmp_path, classifier_ready):
    settings = _settings(dovecot, smtp_sink, tmp_path, require_authentication=True, authserv_id="mx.optingo.eu")
    draft_mail = _draft_mail_for_dpo(dovecot, smtp_sink, settings)
    edited_subject = str(draft_mail["Subject"])
    token = edited_subject.split("token ")[1].strip(")")
    wrong = edited_subject.replace(token, "A" * 16)
    dovecot.append(_answer(draft_mail, "OK", subject=f"Re: {wrong}"))
    dovecot.append(_answer(draft_mail, "OK", sender="someone@example.com",
                           auth="mx.optingo.eu; spf=pass smtp.mailfrom=someone@example.com"))
    dovecot.append(_answer(draft_mail, "OK", auth="mx.optingo.eu; dkim=fail header.d=optingo.eu; spf=fail smtp.mailfrom=optingo.eu"))
    dovecot.append(_answer(draft_mail, "OK", auth="mx.attacker.example; dkim=pass header.d=optingo.eu"))
    run_once(settings)

    assert len(_to_requester(smtp_sink)) == 1  # the acknowledgement only
    reasons = [d["reason"] for _, d in _events(settings, "approval_refused")]
    assert len(reasons) == 4
    assert any("matches no draft" in r for r in reasons)
    assert any("not a configured DPO" in r for r in reasons)
    assert sum(("forged" in r or "authentication failed" in r) for r in reasons) == 2
    assert _with_session(settings, lambda s: s.execute(select(Draft)).scalars().one().status) == "pending"
    # The DPO is told, and only the DPO.
    alerts = [m for m in smtp_sink.messages() if "nie została przyjęta" in str(parsed(m.raw)["Subject"])]
    assert alerts and all(m.rcpt_tos == ("dpo@optingo.eu",) for m in alerts)


def test_mixed_run_sends_only_acknowledgements_confirmations_drafts_and_approved_replies(dovecot, smtp_sink, tmp_path, classifier_ready):
    settings = _settings(dovecot, smtp_sink, tmp_path)
    dovecot.append(request_mail("Jan <jan@example.pl>", "Wniosek o dostęp do danych",
                                "Dzień dobry, na podstawie art. 15 RODO proszę o informację, jakie moje dane osobowe przetwarzacie, oraz o ich kopię."))
    dovecot.append(request_mail("Tom <tom@example.com>", "Unsubscribe", "Please stop sending me your newsletter and marketing emails."))
    draft_mail = _draft_mail_for_dpo(dovecot, smtp_sink, settings)
    begin, end = "=== POCZĄTEK ODPOWIEDZI ===", "=== KONIEC ODPOWIEDZI ==="
    letter = body_text(draft_mail.as_bytes()).split(f"\n{begin}\n")[1].split(f"\n{end}")[0].strip("\n")
    dovecot.append(_answer(draft_mail, f"{begin}\n{drafts._PLACEHOLDER.sub(FILLED, letter)}\n{end}"))
    run_once(settings)

    rows = {f"<{r.message_id}>": r for r in outbox_rows(settings)}
    approved = _with_session(settings, lambda s: {d.outbox_id for d in s.execute(select(Draft)).scalars() if d.status == "sent"})
    kinds = []
    for message in smtp_sink.messages():
        row = rows[parsed(message.raw)["Message-ID"]]
        if row.kind in drafts.DRAFT_KINDS:
            # A substantive reply leaves only as the approved text of a draft.
            assert row.id in approved, f"{row.kind} sent without approval"
            kinds.append("approved_reply")
        else:
            assert row.kind in ("acknowledgement", "optout_confirmation", "draft_for_approval"), row.kind
            kinds.append(row.kind)
    assert {"acknowledgement", "optout_confirmation", "draft_for_approval", "approved_reply"} <= set(kinds)
    assert kinds.count("approved_reply") == 1
