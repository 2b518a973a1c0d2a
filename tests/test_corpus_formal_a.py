"""Checks on the formal-letter part of the classifier corpus written for German, Dutch, Swedish
and English templates (classifiers/data/{de,nl,sv}_formal.jsonl, en_formal2.jsonl)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from classifiers.corpus import load_corpus, read_jsonl
from inbox_bot.values import LABELS

DATA = Path(__file__).resolve().parents[1] / "classifiers" / "data"
# file name -> (lang, id prefix, minimum lines, minimum groups) from the writing brief.
FILES = {
    "de_formal.jsonl": ("de", "def", 260, 130),
    "nl_formal.jsonl": ("nl", "nlf", 60, 30),
    "sv_formal.jsonl": ("sv", "svf", 40, 20),
    "en_formal2.jsonl": ("en", "enf", 100, 50),
}
FIELDS = {"id", "group", "lang", "labels", "subject", "body"}
# Words that would make a marketing objection trivially easy; the brief asks for letters without them.
EASY_MARKETING_WORDS = ("newsletter", "unsubscribe", "abmelden", "afmelden", "avregistrera", "nyhetsbrev")


def _rows(name: str) -> list[dict]:
    path = DATA / name
    if not path.exists():
        pytest.fail(f"{name} is missing")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.mark.parametrize("name", sorted(FILES))
def test_records_are_complete_and_named_by_prefix(name):
    # A missing field, a stray language or an id outside the writer's prefix would
    # crash training or collide with another writer's lines.
    lang, prefix, _, _ = FILES[name]
    for n, row in enumerate(_rows(name), 1):
        where = f"{name}:{n}"
        assert set(row) == FIELDS, where
        assert row["lang"] == lang, where
        assert isinstance(row["subject"], str), where
        assert isinstance(row["body"], str) and row["body"].strip(), where
        assert row["group"].startswith(f"{prefix}-"), where
        assert row["id"] in (row["group"] + "-a", row["group"] + "-b"), where


@pytest.mark.parametrize("name", sorted(FILES))
def test_labels_known_ordered_and_other_alone(name):
    # An unknown label would train an extra class; "other" mixed with a right would teach
    # the model that a request is also "not a request".
    for n, row in enumerate(_rows(name), 1):
        labels = row["labels"]
        assert labels and set(labels) <= set(LABELS), f"{name}:{n} {labels}"
        assert labels == [l for l in LABELS if l in labels], f"{name}:{n} not in LABELS order"
        if "other" in labels:
            assert labels == ["other"], f"{name}:{n}"


@pytest.mark.parametrize("name", sorted(FILES))
def test_sizes_and_groups(name):
    # Too few lines would leave the language under-represented; more than two variants per
    # group, or variants with different labels, would over-weight one text in grouped CV.
    _, _, min_lines, min_groups = FILES[name]
    rows = _rows(name)
    groups = defaultdict(list)
    for row in rows:
        groups[row["group"]].append(row)
    assert len(rows) >= min_lines
    assert len(groups) >= min_groups
    for group, members in groups.items():
        assert len(members) <= 2, group
        assert len({tuple(m["labels"]) for m in members}) == 1, group
        assert len({(m["subject"], m["body"]) for m in members}) == len(members), group


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_kind_is_present(name):
    # The brief asks for access, portability, rectification, erasure, marketing objections,
    # complaints and hard negatives in every language; a missing kind is a blind spot.
    counts = Counter(label for row in _rows(name) for label in row["labels"])
    for label in ("access", "portability", "rectification", "erasure", "marketing_optout", "complaint"):
        assert counts[label] >= 4, (name, label, counts)
    if name != "en_formal2.jsonl":
        assert counts["other"] >= 4, (name, counts)


@pytest.mark.parametrize("name", sorted(FILES))
def test_marketing_objections_avoid_the_easy_words(name):
    # These letters exist to teach formal objections to advertising; a "newsletter" or
    # "unsubscribe" in them would let the model keep relying on those words.
    for row in _rows(name):
        if row["labels"] == ["marketing_optout"]:
            text = (row["subject"] + " " + row["body"]).lower()
            assert not any(w in text for w in EASY_MARKETING_WORDS), row["id"]


def test_texts_are_not_duplicated_across_groups():
    # The same text in two groups would leak between folds of grouped cross-validation.
    seen: dict[str, str] = {}
    for name in FILES:
        for row in _rows(name):
            key = row["body"].strip()
            assert key not in seen or seen[key] == row["group"], (row["id"], seen.get(key))
            seen[key] = row["group"]


def test_ids_unique_across_whole_corpus_and_loader_accepts_files():
    # Another writer reusing an id breaks relabelling; load_corpus refuses the whole corpus
    # then, so check through the project's own loader as well as directly.
    ids = Counter()
    for path in sorted(DATA.glob("*.jsonl")):
        ids.update(e.id for e in read_jsonl(path))
    dupes = [i for i, c in ids.items() if c > 1]
    assert not dupes, dupes[:10]
    loaded = {e.id for e in load_corpus()}
    for name in FILES:
        for row in _rows(name):
            assert row["id"] in loaded
