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


# -- language: the Polish fast path must say what the detector says --------------------------

POLISH_LETTER = (
    "Dzień dobry, zwracam się z prośbą o usunięcie moich danych osobowych, które są "
    "przetwarzane przez Państwa firmę w celach marketingowych. Proszę także o potwierdzenie, "
    "że dane zostały usunięte, oraz o informację, czy były przekazywane innym podmiotom. "
    "Z góry dziękuję. Pozdrawiam, Jan Kowalski"
)
ENGLISH_LETTER = (
    "Hello, I am writing to ask you to erase all personal data you hold about me and to stop "
    "sending me marketing messages. Please confirm in writing once this has been done and tell "
    "me whether my data was shared with anyone else. Kind regards, John Smith"
)


def _detector_says(text: str) -> str:
    from classifiers import language

    head = " ".join(text.split())[: language.LONG_SLICE]
    return language._code(language._long_detector().detect_language_of(head))


def test_polish_fast_path_fires_on_plain_polish_and_agrees_with_the_detector():
    # Guards the point of the fast path (it must fire on an ordinary Polish letter) and its
    # promise (the answer is the detector's).
    from classifiers.language import _unmistakably_polish, detect_language

    head = " ".join(POLISH_LETTER.split())[:400]
    assert _unmistakably_polish(head)
    assert detect_language(POLISH_LETTER) == _detector_says(POLISH_LETTER) == "pl"


def test_bilingual_or_lookalike_text_goes_to_the_detector():
    # A letter whose slice is half English, or a Lithuanian one (ą ę are Lithuanian too), must
    # not be called Polish by the shortcut: the detector weighs the whole slice.
    from classifiers.language import _unmistakably_polish, detect_language

    english_then_polish = ENGLISH_LETTER + " " + POLISH_LETTER
    polish_then_english = POLISH_LETTER[:150] + " " + ENGLISH_LETTER
    lithuanian = (
        "Laba diena, prašau ištrinti visus mano asmens duomenis, kuriuos tvarkote, ir "
        "nebesiųsti man reklaminių laiškų. Prašau patvirtinti, kad duomenys ištrinti, ir "
        "pranešti, ar jie buvo perduoti kitiems. Ačiū už supratingumą, ką tik gavau jūsų laišką."
    )
    for text in (english_then_polish, polish_then_english, lithuanian, ENGLISH_LETTER):
        assert not _unmistakably_polish(" ".join(text.split())[:400]), text[:40]
        assert detect_language(text) == _detector_says(text)
    assert detect_language(lithuanian) == "lt"


def test_polish_fast_path_never_fires_on_the_foreign_request_letters():
    # The shared request letters are in 12 languages, none Polish: a shortcut firing on any of
    # them would turn a Czech or Croatian requester's acknowledgement Polish.
    from pathlib import Path

    import pytest

    from classifiers.language import _unmistakably_polish

    folder = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "requests"
    letters = sorted(folder.rglob("*.txt"))
    if not letters:
        pytest.skip(f"shared corpus not found at {folder} (a plain checkout has no ../shared)")
    fired = [str(p.relative_to(folder)) for p in letters if _unmistakably_polish(" ".join(p.read_text(encoding="utf-8").split())[:400])]
    assert fired == []


def test_polish_fast_path_agrees_with_the_detector_on_the_labelled_corpus():
    # Over the classifier's own letters in 15 languages: wherever the shortcut fires, the
    # detector (what answered before the shortcut) says "pl" too.
    import json
    from pathlib import Path

    from classifiers.language import _unmistakably_polish

    data = Path(__file__).resolve().parents[1] / "classifiers" / "data"
    fired, disagree = 0, []
    for path in sorted(data.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            record = json.loads(line)
            text = f"{record['subject']}\n{record['body']}"
            head = " ".join(text.split())[:400]
            if len(head) >= 120 and _unmistakably_polish(head):
                fired += 1
                if _detector_says(text) != "pl":
                    disagree.append(f"{path.name}:{n}")
    assert fired > 500  # the shortcut is worth keeping only if it fires on ordinary Polish
    assert disagree == []


def test_header_decoding_fast_path_matches_the_stdlib_reading():
    # A value without "=?" skips decode_header; one with an encoded word (even a broken one, or
    # one split by folding) must still go through it, and a folded plain value must still lose
    # its CR/LF, or a header could smuggle a second line into what we log and reply with.
    from inbox_bot.parsing import decode_header_value

    assert decode_header_value("=?utf-8?q?Pro=C5=9Bba?= o dane") == "Prośba o dane"
    assert decode_header_value("Re: =?iso-8859-2?b?v7N0?=") == "Re: żłt"
    assert decode_header_value("=?broken?x?nope?= tail") == "=?broken?x?nope?= tail"
    assert decode_header_value("plain\r\n folded\x00 value ") == "plain  folded  value"
    assert decode_header_value("  a = ? b  ") == "a = ? b"


def test_cached_address_headers_read_the_same_every_time():
    # The address reading is cached per raw header: a repeated To or From must give the same
    # sender and recipients, including the fallback for headers getaddresses cannot read, and a
    # header too long to be cached must be read the same way as a short one.
    from inbox_bot.parsing import _addresses

    cases = [
        ["=?utf-8?q?Pani_Zofia?= <zofia@example.pl>, iodo@optingo.eu"],
        ["Jan <jan@example.pl"],
        ["not an address at all"],
        [", ".join(f"person{i}@example.com" for i in range(200))],
    ]
    expected = [
        [("Pani Zofia", "zofia@example.pl"), ("", "iodo@optingo.eu")],
        [("Jan", "jan@example.pl")],
        [("", "not")],  # what getaddresses makes of it; normalise_address rejects it later
        [("", f"person{i}@example.com") for i in range(200)],
    ]
    for _ in range(2):
        got = [_addresses(raw) for raw in cases]
        assert got == expected
        got[0].append(("x", "x@example.com"))  # a caller changing its list must not touch the cache
    assert _addresses(cases[0]) == expected[0]


def test_cached_header_keys_and_charsets_read_the_same_every_time():
    # Header keys and charsets are kept per written value: a second message with the same
    # header name or Content-Type must get what the first got, a name in another case the same
    # key, a value with 8-bit bytes (a Header object to the stdlib, never cached) its own
    # reading, and the cache must not carry one value's answer over to another.
    from email import message_from_string
    from email.policy import compat32

    from inbox_bot.parsing import _charset

    raw = ("From: a@example.com\r\nX-Mixed-CASE: one\r\nx-mixed-case: two\r\nSUBJECT: s\r\n"
           "Content-Type: text/plain; charset=\"ISO-8859-2\"\r\n\r\nbody\r\n").encode("ascii")
    for _ in range(2):
        mail = parse_message(raw)
        assert mail.header("x-mixed-case") == ("one", "two") and mail.subject == "s"
        assert [k for k, _ in mail.headers] == ["from", "x-mixed-case", "x-mixed-case", "subject", "content-type"]
    values = ['text/plain; charset="UTF-8"', "text/plain; charset=iso-8859-2", "text/plain; charset*=utf-8''cp1250",
              "text/plain; charset=\"\udcc5\"", "text/plain; name=x", "text/plain; charset=ZA\u017b"]
    for _ in range(2):
        for value in values:
            part = message_from_string(f"Content-Type: {value}\r\n\r\nx\r\n", policy=compat32)
            try:
                expected = part.get_content_charset()
            except Exception:
                expected = None
            assert _charset(part) == expected, value
