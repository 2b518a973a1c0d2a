"""The cheaper paths of drafting and queuing mail give exactly what the plain ones gave.

What could go wrong: a stored spec whose JSON differs from before (a date tagged differently, a
key order changed) and so builds other bytes; a Message-ID or nonce that is no longer a version-4
UUID's hex or 32 hex digits; a forked worker handing out the random bytes its parent also hands
out (two messages with one Message-ID); a token that no longer matches those already mailed;
cached template answers that miss a templates folder set later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import uuid
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from inbox_bot import compose, drafts, mailspec

WARSAW = ZoneInfo("Europe/Warsaw")


def _spec(context: dict | None, **fixed) -> mailspec.MailSpec:
    values = dict(
        kind="acknowledgement", language="pl", context=context, subject=None, text=None,
        from_addr="iodo@optingo.eu", from_name="Optingo", to="jan@example.pl",
        message_id="0123abcd@optingo.eu", in_reply_to="req-1@example.pl", references=("req-1@example.pl",),
        auto_submitted="auto-replied", loop_header=("X-Inbox-Bot-Loop", "optingo.eu"),
        case_reference="IODO-2026-00007", date=datetime(2026, 3, 29, 1, 15, tzinfo=timezone.utc),
    )
    values.update(fixed)
    return mailspec.MailSpec(**values)


def test_spec_json_is_the_text_the_encoder_with_a_date_callback_wrote():
    # The literal text rows queued before hold: a change of form (key order, tag, spacing)
    # would store another spec for the same message.
    context = {
        "reference": "IODO-2026-00007", "labels": ["access", "erasure"], "triage": False, "n": 3,
        "received_at": datetime(2026, 3, 29, 0, 30, tzinfo=WARSAW),
        "suppressed_at": datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc),
        "day": date(2026, 4, 1), "nested": [{"at": datetime(2026, 1, 2, 3, 4, tzinfo=WARSAW)}, [date(2026, 5, 6)]],
        "excerpt": "zażółć \"gęślą\" \u2028 jaźń", "none": None,
    }
    assert mailspec.dumps(_spec(context)) == (
        '{"format":1,"kind":"acknowledgement","language":"pl","context":{"reference":"IODO-2026-00007",'
        '"labels":["access","erasure"],"triage":false,"n":3,'
        '"received_at":{"$datetime":"2026-03-29T00:30:00+01:00","zone":"Europe/Warsaw"},'
        '"suppressed_at":{"$datetime":"2026-03-29T00:30:00+00:00","zone":null},"day":{"$date":"2026-04-01"},'
        '"nested":[{"at":{"$datetime":"2026-01-02T03:04:00+01:00","zone":"Europe/Warsaw"}},[{"$date":"2026-05-06"}]],'
        '"excerpt":"zażółć \\"gęślą\\" \u2028 jaźń","none":null},"subject":null,"text":null,'
        '"from_addr":"iodo@optingo.eu","from_name":"Optingo","to":"jan@example.pl","message_id":"0123abcd@optingo.eu",'
        '"in_reply_to":"req-1@example.pl","references":["req-1@example.pl"],"auto_submitted":"auto-replied",'
        '"loop_header":["X-Inbox-Bot-Loop","optingo.eu"],"case_reference":"IODO-2026-00007",'
        '"date":{"$datetime":"2026-03-29T01:15:00+00:00","zone":null}}'
    )


def test_dumps_leaves_the_callers_context_as_it_was():
    # The dates are tagged in a copy: the caller's context (also the DPO mail's, shared by every
    # DPO address) must still hold datetimes after queuing.
    moment = datetime(2026, 3, 29, 0, 30, tzinfo=WARSAW)
    context = {"at": moment, "list": [moment]}
    mailspec.dumps(_spec(context))
    assert context == {"at": moment, "list": [moment]} and type(context["list"][0]) is datetime


@pytest.mark.parametrize("context", [
    {"at": datetime(2026, 3, 29, 0, 30)},  # naive: would render in the deliverer's zone
    {"x": object()},
    {"ok": "a", "deep": [{"at": datetime(2026, 3, 29)}]},
    {1: "a key that is not a string"},
    {"shaped": {"$date": "2026-01-01"}},  # would read back as a date
])
def test_values_without_a_json_form_are_still_refused(context):
    with pytest.raises(mailspec.NotStorable):
        mailspec.dumps(_spec(context))


def test_message_id_hex_is_a_version_4_uuid():
    # Readers and our own bounce matching take the part before "@" as a UUID's 32 hex digits.
    for _ in range(300):
        mid = compose.make_message_id("Optingo.EU")
        local, _, domain = mid.partition("@")
        assert domain == "optingo.eu" and re.fullmatch(r"[0-9a-f]{32}", local)
        parsed = uuid.UUID(hex=local)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_pool_hands_out_every_byte_once_across_refills():
    # 16-byte slices over several 4 KB refills: a repeat would be two messages with one id.
    seen = {compose.random_bytes(16) for _ in range(1000)}
    assert len(seen) == 1000
    assert re.fullmatch(r"[0-9a-f]{32}", compose.random_hex(16))
    assert len(compose.random_bytes(10_000)) == 10_000  # more than a refill: straight from os.urandom


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_hand_out_its_parents_bytes():
    compose.random_bytes(16)  # the parent's pool now holds bytes it has not handed out yet
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(write, compose.random_bytes(16))
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 16)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 16
    assert child != compose.random_bytes(16)  # what the parent hands out next


def test_token_is_the_hmac_sha256_the_mailed_tokens_were_made_with():
    # Tokens already in DPOs' mailboxes must still match after an upgrade.
    key, nonce = b"k" * 32, secrets.token_hex(16)
    digest = hmac.new(key, f"42:{nonce}".encode(), hashlib.sha256).digest()
    assert drafts.token_for(key, 42, nonce) == base64.b32encode(digest[:10]).decode()[:16]
    assert drafts.token_for(b"fixed", 7, "00" * 16) == "NFCZ36MMX5N55DYH"  # computed with hmac.new


def test_cached_template_answers_follow_a_templates_folder_set_later(tmp_path, monkeypatch):
    # The answers are cached per folder: a folder named in the environment after the first look
    # must be looked at, not the answers for the shipped templates.
    assert compose.has_template("acknowledgement", "pl")
    assert compose.pick_language("de", "acknowledgement", "pl") == "pl"
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "acknowledgement.subject.j2").write_text("Eingang")
    (tmp_path / "de" / "acknowledgement.txt.j2").write_text("Hallo")
    monkeypatch.setenv(compose.TEMPLATES_ENV, str(tmp_path))
    assert compose.pick_language("de-AT", "acknowledgement", "pl") == "de"
    assert not compose.has_template("acknowledgement", "pl")
    assert compose.render("acknowledgement", "de", {}).text == "Hallo\n"


def test_unknown_templates_still_raise_and_are_looked_for_again(tmp_path):
    import jinja2

    with pytest.raises(jinja2.TemplateNotFound):
        compose.render("acknowledgement", "xx", {}, tmp_path)
    with pytest.raises(jinja2.TemplateNotFound):
        compose.render("../etc", "pl", {}, tmp_path)
    (tmp_path / "xx").mkdir()
    (tmp_path / "xx" / "acknowledgement.subject.j2").write_text("S")
    (tmp_path / "xx" / "acknowledgement.txt.j2").write_text("T")
    assert compose.render("acknowledgement", "xx", {}, tmp_path).subject == "S"


def _plain_environment_render(kind: str, language: str, context: dict) -> tuple[str, str]:
    # Jinja as it comes (ChainMap globals, templates looked up on every render), set up as compose's.
    import jinja2

    reference = compose._environment(compose._real(compose._root(None)))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(compose._root(None)), undefined=jinja2.StrictUndefined,
        autoescape=compose._autoescape, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters.update({name: reference.filters[name] for name in (
        "date_pl", "date_en", "datetime_pl", "datetime_en", "localdate", "localdatetime", "days_until")})
    env.globals["reply_markers"] = compose.REPLY_MARKERS
    values = {**context, "language": language}
    subject = env.get_template(f"{language}/{kind}.subject.j2").render(values)
    text = env.get_template(f"{language}/{kind}.txt.j2").render(values)
    return " ".join(subject.split()), compose._tidy_text(text)


@pytest.mark.parametrize("language", ["pl", "en"])
@pytest.mark.parametrize("kind", [*drafts.DRAFT_KINDS, "acknowledgement"])
def test_every_letter_renders_as_plain_jinja_renders_it(kind, language):
    # The environment's plain-dict globals must not change a character of any letter.
    from helpers import ORGANISATION

    from inbox_bot import config as config_mod
    from inbox_bot.pipeline import _reply_context
    from inbox_bot.schema import Case

    settings = config_mod.from_dict({"organisation": ORGANISATION})
    received = datetime(2026, 3, 28, 23, 30, tzinfo=timezone.utc)
    case = Case(id=7, reference="IODO-2026-00007", requester="jan@example.pl", labels=["access", "erasure"],
                language=language, status="acknowledged", received_at=received, due_at=received.replace(month=4))
    context = drafts.letter_context(settings, case)
    if kind == "acknowledgement":
        context = _reply_context(settings, case, language)
    context["timezone"] = "Europe/Warsaw"
    out = compose.render(kind, language, context, timezone_name="Europe/Warsaw")
    assert (out.subject, out.text) == _plain_environment_render(kind, language, context)
    assert "IODO-2026-00007" in out.text + out.subject
