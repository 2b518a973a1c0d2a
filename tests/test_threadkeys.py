"""thread_keys: case references in the subject and our own Message-IDs in threading headers."""

from dataclasses import replace

from inbox_bot.parsing import parse_message
from inbox_bot.threadkeys import thread_keys

BASE = parse_message(b"From: jan@example.pl\r\nSubject: x\r\n\r\nbody\r\n")


def keys(**changes):
    return thread_keys(replace(BASE, **changes), "IODO", "optingo.eu")


def test_reference_in_brackets_and_any_case():
    assert keys(subject="Re: Potwierdzenie [IODO-2026-00042]").references_in_subject == ("IODO-2026-00042",)
    assert keys(subject="odp: iodo-2026-00042 i IODO-2025-00007").references_in_subject == (
        "IODO-2026-00042",
        "IODO-2025-00007",
    )


def test_lookalike_references_ignored():
    # Guards against attaching mail to the wrong case on a longer number or another prefix.
    assert keys(subject="XIODO-2026-00042 IODO-2026-000421 IODO-26-00042").references_in_subject == ()


def test_our_message_ids_only():
    k = keys(in_reply_to="ack-1@optingo.eu", references=("first@gmail.com", "ack-0@OPTINGO.EU", "ack-1@optingo.eu"))
    assert k.our_message_ids == ("ack-1@optingo.eu", "ack-0@OPTINGO.EU")
    assert keys(in_reply_to="x@mail.optingo.eu.evil.com").our_message_ids == ()
