"""The prepare step's fast paths give what the slow paths they short-cut give.

Each optimisation of parse/screen/thread keys skips work for the common case (ASCII headers, a
recipient address seen before, ...). These tests feed both the common and the uncommon case and
check the answer against the plain, unoptimised reading, so that a fast path that drifts from
the slow one fails here rather than as a mis-threaded or mis-decoded message in production.
"""

from __future__ import annotations

from inbox_bot.parsing import _raw_to_str, parse_message


def _raw_to_str_reference(value: str) -> str:
    # The reading before the fast path: any lone surrogate means 8-bit bytes to decode.
    from inbox_bot.parsing import decode_bytes

    if any("\udc80" <= ch <= "\udcff" for ch in value):
        return decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    return value


def test_raw_header_with_smuggled_8bit_bytes_is_still_decoded():
    # An unencoded UTF-8 subject reaches us as surrogates; a fast path that only looked for
    # ASCII-ness or skipped non-ASCII text would hand on "Zaj\udcc4\udc99..." instead of Polish.
    smuggled = "Zażółć gęślą jaźń".encode("utf-8").decode("ascii", "surrogateescape")
    assert _raw_to_str(smuggled) == "Zażółć gęślą jaźń"
    cp1250 = "Proszę o usunięcie".encode("cp1250").decode("ascii", "surrogateescape")
    assert _raw_to_str(cp1250) == _raw_to_str_reference(cp1250) == "Proszę o usunięcie"


def test_raw_header_fast_path_leaves_text_alone():
    # Already-decoded non-ASCII text (no surrogates) and plain ASCII must come back unchanged.
    for value in ("plain ascii", "Zażółć already text", "", "\udc7f not in the smuggled range"):
        assert _raw_to_str(value) == _raw_to_str_reference(value) == value


def test_unencoded_8bit_subject_parses_to_text():
    # End to end through the stdlib parser, which is what produces the surrogates.
    raw = "From: a@example.com\r\nSubject: Prośba o usunięcie\r\n\r\nbody\r\n".encode("utf-8")
    assert parse_message(raw).subject == "Prośba o usunięcie"


def test_cached_normalise_address_answers_the_same_on_every_call():
    # normalise_address keeps a cache of validated addresses: a second call must not turn a
    # rejected address into an accepted one (or the reverse), nor return another address's form.
    from inbox_bot.parsing import normalise_address

    for _ in range(3):
        assert normalise_address("Jan.Kowalski@Example.PL") == "jan.kowalski@example.pl"
        assert normalise_address("<jan.kowalski@example.pl>") == "jan.kowalski@example.pl"
        assert normalise_address("a@b") is None
        assert normalise_address("jan..kowalski@example.pl") is None
        assert normalise_address("x" * 300 + "@" + "y" * 30 + ".pl") is None
        assert normalise_address("iodo@optingo.test") == "iodo@optingo.test"
