"""The benchmark's message generator: reproducible, varied, and parseable as real mail.

Benchmarks are not tests; this only guards the generator, whose drift would silently change
what every later benchmark run measures.
"""

from __future__ import annotations

import email
import email.policy
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from generate import Generator, backlog  # noqa: E402

N = 600


def _messages():
    return list(backlog(N, seed=3))


def test_the_same_seed_gives_the_same_bytes():
    # Guards against comparing runs whose backlogs differ (a stray unseeded random call).
    assert [s.raw for s in backlog(30, seed=3)] == [s.raw for s in backlog(30, seed=3)]
    assert Generator(3).sample(17).raw == list(backlog(20, seed=3))[17].raw
    assert [s.raw for s in backlog(5, seed=3)] != [s.raw for s in backlog(5, seed=4)]


def test_about_a_tenth_are_robots_of_each_kind():
    kinds = Counter(s.kind for s in _messages())
    robots = kinds["auto_reply"] + kinds["bounce"] + kinds["mailing_list"]
    assert 0.06 * N <= robots <= 0.14 * N, kinds
    assert kinds["auto_reply"] and kinds["bounce"] and kinds["mailing_list"]


def test_both_languages_and_realistic_sizes():
    samples = _messages()
    languages = Counter(s.language for s in samples)
    assert languages["pl"] > N / 3 and languages["en"] > N / 5, languages
    sizes = sorted(len(s.raw) for s in samples)
    median = sizes[len(sizes) // 2]
    # Most mail 1-5 KB: a generator of 200-byte one-liners would flatter the parser.
    assert 1_000 <= median <= 5_000, median
    share_in_range = sum(1 for x in sizes if 700 <= x <= 6_000) / len(sizes)
    assert share_in_range > 0.8, share_in_range


def test_some_have_html_alternatives_and_a_few_large_attachments():
    samples = list(backlog(2_000, seed=5))
    html = sum(1 for s in samples if b"multipart/alternative" in s.raw)
    big = [s for s in samples if len(s.raw) >= 100_000]
    assert html > 0.15 * len(samples), html
    assert 1 <= len(big) <= 40, len(big)
    assert all(len(s.raw) <= 1_100_000 for s in big)


def test_every_message_parses_with_sender_subject_and_unique_message_id():
    ids = set()
    for sample in _messages():
        msg = email.message_from_bytes(sample.raw, policy=email.policy.default)
        assert msg["From"] and msg["Subject"] and msg["Date"], sample.index
        ids.add(msg["Message-ID"])
        if not sample.robot:
            # Requests carry their text in a text/plain part that decodes (QP, base64, 8bit).
            body = msg.get_body(preferencelist=("plain",)).get_content()
            assert len(body) > 80, sample.index
        if sample.kind == "bounce":
            assert msg.get_content_type() == "multipart/report"
        if sample.kind == "auto_reply":
            assert msg["Auto-Submitted"] == "auto-replied"
        if sample.kind == "mailing_list":
            assert msg["List-Id"]
    assert len(ids) == N  # a repeated Message-ID would be deduplicated and shrink the backlog


def test_polish_requests_keep_their_diacritics():
    # Guards against an encoding slip that turns "usunięcie" into mojibake the classifier never saw.
    texts = [
        email.message_from_bytes(s.raw, policy=email.policy.default).get_body(preferencelist=("plain",)).get_content()
        for s in _messages()
        if s.language == "pl" and not s.robot
    ]
    assert sum(1 for t in texts if any(c in t for c in "ąęłńóśźżć")) > 0.9 * len(texts)
