"""The dedup key's direct reading of the Message-ID gives what the stdlib header parser gives.

`message_key` reads a plain one-line Message-ID straight from the bytes and asks the parser
otherwise. If the two readings drifted apart, the same mail fetched again under a new UID would
get another key and be processed twice (a second case, a second acknowledgement).
"""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

import pytest

from inbox_bot.pipeline import _plain_message_id, message_key

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


def _parser_reading(raw: bytes) -> str:
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw[:65536], headersonly=True)
        return str(headers.get("Message-ID", "") or "").strip()
    except Exception:
        return ""


def _key_by_parser(raw: bytes) -> str:
    # message_key as it was before the direct reading.
    import hashlib

    message_id = _parser_reading(raw)
    if message_id and "@" in message_id:
        return hashlib.sha256(b"mid:" + message_id.strip("<> \t").encode("utf-8", "surrogateescape")).hexdigest()
    return hashlib.sha256(b"raw:" + raw).hexdigest()


TRICKY = [
    # plain, both line endings
    b"From: a@example.com\r\nMessage-ID: <abc@example.com>\r\n\r\nbody",
    b"From: a@example.com\nMessage-Id:   <abc@example.com>  \nSubject: x\n\nbody",
    # folded: the parser joins the continuation, the direct reading must step aside
    b"From: a@example.com\r\nMessage-ID:\r\n <folded@example.com>\r\n\r\nbody",
    # a second Message-ID: the first one counts
    b"Message-ID: <first@example.com>\r\nMessage-ID: <second@example.com>\r\n\r\n",
    # after the blank line it is body, not a header
    b"From: a@example.com\r\n\r\nMessage-ID: <in-body@example.com>\r\n",
    # a line that is not a header ends the header block (missing separator)
    b"From: a@example.com\r\nthis is not a header\r\nMessage-ID: <late@example.com>\r\n\r\n",
    # a bare CR is a line break to the parser
    b"From: a@example.com\rMessage-ID: <cr@example.com>\r\n\r\n",
    b"From: a@example.com\r\nMessage-ID: <x@example.com>\rjunk\r\n\r\n",
    # 8-bit bytes in the value
    "Message-ID: <zażółć@example.com>\r\n\r\n".encode("utf-8"),
    # a leading envelope line, a name with a space before the colon, a lookalike name
    b"From a@example.com Mon Jan  1 00:00:00 2026\nMessage-ID: <env@example.com>\n\n",
    b"Message-ID : <spaced@example.com>\r\nMessage-ID: <real@example.com>\r\n\r\n",
    b"X-Original-Message-ID: <orig@example.com>\r\nMessage-ID: <own@example.com>\r\n\r\n",
    # no newline after the last header, no Message-ID at all, empty value
    b"From: a@example.com\r\nMessage-ID: <eof@example.com>",
    b"From: a@example.com\r\nSubject: none\r\n\r\nbody",
    b"Message-ID:\r\n\r\n",
    # beyond the first 64 KiB the parser never looks
    b"X-Pad: " + b"a" * 70000 + b"\r\nMessage-ID: <far@example.com>\r\n\r\n",
]


@pytest.mark.parametrize("raw", TRICKY)
def test_direct_reading_matches_the_parser_or_steps_aside(raw):
    direct = _plain_message_id(raw)
    assert direct is None or direct == _parser_reading(raw)
    assert message_key(raw) == _key_by_parser(raw)


def test_the_common_forms_are_read_directly():
    # Without this the fast path could quietly never fire and the test above would still pass.
    assert _plain_message_id(TRICKY[0]) == "<abc@example.com>"
    assert _plain_message_id(TRICKY[1]) == "<abc@example.com>"
    assert _plain_message_id(TRICKY[3]) == "<first@example.com>"
    assert _plain_message_id(TRICKY[9]) == "<env@example.com>"
    assert _plain_message_id(TRICKY[11]) == "<own@example.com>"
    # ... and the doubtful ones are left to the parser.
    for index in (2, 5, 6, 7, 8, 10, 12, 15):
        assert _plain_message_id(TRICKY[index]) is None, index


def test_keys_equal_the_parser_reading_over_the_shared_mail():
    folder = CORPORA / "mime"
    if not folder.is_dir():
        pytest.skip(f"shared corpus not found at {folder}")
    files = sorted(folder.rglob("*.eml"))
    assert len(files) > 500
    fired = 0
    for path in files:
        raw = path.read_bytes()
        direct = _plain_message_id(raw)
        if direct is not None:
            fired += 1
            assert direct == _parser_reading(raw), path.name
        assert message_key(raw) == _key_by_parser(raw), path.name
    assert fired > len(files) // 2  # the real-world mail mostly takes the direct path
