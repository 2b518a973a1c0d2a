"""Checks on the formal-letter corpus in Czech, Croatian, Greek, Ukrainian and Polish
(classifiers/data/{cs,hr,el,uk,pl}_formal.jsonl): record shape, labels, ids, sizes and the
letter kinds the corpus brief asks for."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "classifiers" / "data"
SHARED_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
FILES = {"cs": "csf", "hr": "hrf", "el": "elf", "uk": "ukf", "pl": "plf"}
MIN_LINES = {"cs": 110, "hr": 90, "el": 80, "uk": 50, "pl": 150}
LABELS = {
    "access", "rectification", "erasure", "restriction", "portability",
    "objection", "marketing_optout", "complaint", "breach_report", "other",
}
FIELDS = ("id", "group", "lang", "labels", "subject", "body")
# The label sets of the eight kinds of letter in the brief; each language must have all.
KINDS = [
    {"access"}, {"access", "portability"}, {"rectification"}, {"erasure"},
    {"erasure", "objection", "restriction"}, {"marketing_optout"}, {"complaint"}, {"other"},
]


def _lines(lang: str) -> list[tuple[int, str]]:
    path = DATA / f"{lang}_formal.jsonl"
    return list(enumerate(path.read_text(encoding="utf-8").splitlines(), 1))


ROWS = {lang: [json.loads(line) for _, line in _lines(lang)] for lang in FILES}


@pytest.mark.parametrize("lang", FILES)
def test_records_have_exact_fields_and_text(lang):
    # An extra key, a missing subject or an empty body breaks strict readers of the corpus.
    for n, line in _lines(lang):
        row = json.loads(line)
        assert tuple(row) == FIELDS, f"{lang}:{n}"
        assert isinstance(row["subject"], str), f"{lang}:{n}"
        assert isinstance(row["body"], str) and row["body"].strip(), f"{lang}:{n}"
        # Unescaped text keeps the file reviewable by a native speaker.
        assert "\\u0" not in line, f"{lang}:{n} has \\u escapes"
        # A leftover {placeholder} from a letter template would teach the model template syntax.
        assert not re.search(r"\{[a-z0-9_]+\}", row["subject"] + row["body"]), f"{lang}:{n}"


@pytest.mark.parametrize("lang", FILES)
def test_ids_groups_and_lang_follow_the_prefix(lang):
    # A variant filed under another group would leak one text across cross-validation folds.
    prefix = FILES[lang]
    for row in ROWS[lang]:
        assert row["lang"] == lang, row["id"]
        assert re.fullmatch(prefix + r"-\d{4}", row["group"]), row["group"]
        assert re.fullmatch(re.escape(row["group"]) + r"-[abc]", row["id"]), row["id"]


@pytest.mark.parametrize("lang", FILES)
def test_labels_known_and_other_alone(lang):
    # A misspelt label trains an eleventh class; "other" beside a right contradicts itself.
    for row in ROWS[lang]:
        labels = row["labels"]
        assert labels and set(labels) <= LABELS, row["id"]
        assert len(set(labels)) == len(labels), row["id"]
        if "other" in labels:
            assert labels == ["other"], row["id"]


@pytest.mark.parametrize("lang", FILES)
def test_groups_are_small_consistent_and_distinct(lang):
    # Variants must share labels, have one base line, and not repeat a text.
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in ROWS[lang]:
        groups[row["group"]].append(row)
    for group, rows in groups.items():
        assert len(rows) <= 3, group
        assert sum(r["id"].endswith("-a") for r in rows) == 1, group
        assert len({tuple(sorted(r["labels"])) for r in rows}) == 1, group
    texts = [(r["subject"].strip().lower(), r["body"].strip().lower()) for r in ROWS[lang]]
    assert len(texts) == len(set(texts))


def test_ids_unique_across_the_whole_corpus():
    # Ids are how relabelling and error analysis point at a text; any duplicate misdirects them.
    seen: dict[str, str] = {}
    for path in sorted(DATA.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            rid = json.loads(line)["id"]
            assert rid not in seen, f"{rid} in {path.name}:{n} and {seen[rid]}"
            seen[rid] = f"{path.name}:{n}"


@pytest.mark.parametrize("lang", FILES)
def test_size_and_every_kind_present(lang):
    # The brief's minimum sizes, and each of its eight kinds in every language.
    rows = ROWS[lang]
    assert len(rows) >= MIN_LINES[lang], len(rows)
    present = {frozenset(r["labels"]) for r in rows}
    missing = [sorted(k) for k in KINDS if frozenset(k) not in present]
    assert missing == []


@pytest.mark.parametrize("lang", FILES)
def test_marketing_objections_avoid_newsletter_words(lang):
    # These letters exist to teach opt-outs phrased as art. 21(2) objections; a
    # "newsletter"/"unsubscribe" cue would let the model learn the keyword instead.
    for row in ROWS[lang]:
        if row["labels"] == ["marketing_optout"]:
            text = (row["subject"] + " " + row["body"]).lower()
            assert "newsletter" not in text and "unsubscribe" not in text, row["id"]


def test_reminders_and_authority_letters_are_labelled_as_the_brief_says():
    # A reminder threatening a complaint chases the right, it is not a complaint; an authority's
    # own request for records is "other", but an authority forwarding a complaint is "complaint".
    pl = {r["id"]: r for r in ROWS["pl"]}
    reminders = [r for r in pl.values() if r["subject"].startswith("Ponaglenie")]
    assert reminders and all("complaint" not in r["labels"] for r in reminders)
    assert any(r["labels"] == ["access"] for r in reminders)
    records = [r for r in pl.values() if "rejestru czynności przetwarzania" in r["body"]]
    assert records and all(r["labels"] == ["other"] for r in records)
    forwarded = [r for r in pl.values() if r["subject"].startswith("Pismo Prezesa UODO")]
    assert forwarded and all(r["labels"] == ["complaint"] for r in forwarded)
    # Access letters that merely reserve the right to complain keep the single label.
    reserving = [r for lang in FILES for r in ROWS[lang]
                 if "zastrzegam sobie prawo wniesienia skargi" in r["body"]
                 or "vyhrazuji právo podat stížnost" in r["body"]]
    assert reserving and all("complaint" not in r["labels"] for r in reserving)


def test_no_line_copied_from_the_shared_corpora():
    # The shared corpora are the measurement set; a copied sentence would inflate the scores.
    if not SHARED_CORPORA.is_dir():
        pytest.skip(f"shared corpora not found at {SHARED_CORPORA}")
    ours = set()
    for lang in FILES:
        for row in ROWS[lang]:
            for line in row["body"].split("\n"):
                line = " ".join(line.split()).lower()
                if len(line) >= 60:
                    ours.add(line)
    hits = 0
    for path in SHARED_CORPORA.rglob("*"):
        if path.is_file() and path.stat().st_size < 2_000_000:
            text = path.read_text(encoding="utf-8", errors="ignore")
            hits += sum(" ".join(line.split()).lower() in ours for line in text.split("\n"))
    assert hits == 0
