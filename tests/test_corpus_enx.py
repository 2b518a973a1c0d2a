"""Checks on the English everyday-mail part of the classifier corpus (classifiers/data/en_everyday*.jsonl):
well-formed lines, known labels, groups of at most three variants, ids unique across the whole corpus,
and a spread over all ten labels so that no label is left with a handful of examples."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from classifiers.corpus import load_corpus
from inbox_bot.values import LABELS

DATA = Path(__file__).resolve().parents[1] / "classifiers" / "data"
FIELDS = {"id", "group", "lang", "labels", "subject", "body"}
MIN_LINES = 1200
MIN_GROUPS = 450
# Each label should appear in at least this many groups, so grouped cross-validation has
# examples of it in every fold.
MIN_GROUPS_PER_LABEL = 35


def _files() -> list[Path]:
    return sorted(DATA.glob("en_everyday[12].jsonl"))  # en_everyday3+ are the "eny-" writer's, checked apart


def _rows() -> list[tuple[str, int, dict]]:
    rows = []
    for path in _files():
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    rows.append((path.name, n, json.loads(line)))
    return rows


def test_files_exist():
    # a renamed or missing file would silently drop the everyday English mail from training
    assert _files(), "no classifiers/data/en_everyday*.jsonl"


def test_records_complete_english_and_prefixed():
    # a missing field or a stray language would crash training or skew language detection figures
    for name, n, row in _rows():
        where = f"{name}:{n}"
        assert set(row) == FIELDS, where
        assert row["lang"] == "en", where
        assert isinstance(row["subject"], str), where
        assert isinstance(row["body"], str) and row["body"].strip(), where
        assert row["group"].startswith("enx-"), where
        assert row["id"] in {row["group"] + s for s in ("-a", "-b", "-c")}, where


def test_written_without_ascii_escapes():
    # the brief asks for ensure_ascii=False; escaped lines are unreadable in review
    for path in _files():
        assert "\\u0" not in path.read_text(encoding="utf-8"), path.name


def test_labels_known_ordered_and_other_alone():
    # an unknown label would train an extra class; "other" beside a right would teach
    # the model that a request is also "not a request"
    for name, n, row in _rows():
        labels = row["labels"]
        assert labels and set(labels) <= set(LABELS), f"{name}:{n} {labels}"
        assert labels == [l for l in LABELS if l in labels], f"{name}:{n} order"
        assert len(set(labels)) == len(labels), f"{name}:{n} duplicate"
        if "other" in labels:
            assert labels == ["other"], f"{name}:{n}"


def test_groups_small_consistent_and_distinct():
    # more than three variants, or variants with different labels, would over-weight one text
    # or contradict itself in grouped cross-validation
    groups = defaultdict(list)
    for _, _, row in _rows():
        groups[row["group"]].append(row)
    for group, members in groups.items():
        assert len(members) <= 3, group
        assert len({tuple(m["labels"]) for m in members}) == 1, group
        assert len({(m["subject"], m["body"]) for m in members}) == len(members), group


def test_base_texts_are_distinct_from_each_other_and_from_other_files():
    # a base text repeated under two groups would leak between CV folds; one copied from
    # another writer's file would do the same across files
    ours = {}
    for _, _, row in _rows():
        if row["id"].endswith("-a"):
            key = " ".join(row["body"].split()).lower()
            assert key not in ours, (row["id"], ours.get(key))
            ours[key] = row["id"]
    for path in sorted(DATA.glob("*.jsonl")):
        if path.name in ("en_everyday1.jsonl", "en_everyday2.jsonl"):
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    body = " ".join(json.loads(line)["body"].split()).lower()
                    assert body not in ours, (path.name, ours.get(body))


def test_ids_unique_across_all_corpus_files():
    # the loader keys examples by id; a clash with another writer's file would drop or merge lines
    seen = {}
    for path in sorted(DATA.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    rid = json.loads(line)["id"]
                    assert rid not in seen, f"{rid} in {path.name}:{n} and {seen[rid]}"
                    seen[rid] = f"{path.name}:{n}"


def test_sizes_and_label_spread():
    # the brief's targets; a label with few groups would get no reliable threshold
    rows = [row for _, _, row in _rows()]
    groups = {row["group"]: tuple(row["labels"]) for row in rows}
    assert len(rows) >= MIN_LINES
    assert len(groups) >= MIN_GROUPS
    per_label = Counter(l for labels in groups.values() for l in labels)
    for label in LABELS:
        assert per_label[label] >= MIN_GROUPS_PER_LABEL, (label, per_label[label])


def test_the_project_loader_accepts_the_files():
    # the training code must read these lines exactly as the test reads them
    examples = [e for e in load_corpus() if e.group.startswith("enx-")]
    assert len(examples) == len(_rows())


@pytest.mark.parametrize(
    "rid, labels",
    [
        # someone else's data reached the writer: a leak, not a grievance
        ("enx-0002-a", ["breach_report"]),
        # angry about retention and announcing the authority: a complaint, nothing leaked
        ("enx-0010-a", ["complaint"]),
        # "where did you get my number" is a short access request
        ("enx-0061-a", ["access"]),
        # scoring and tracking without a word about marketing: objection
        ("enx-0129-a", ["objection"]),
        # "STOP. no more of your messages": a bare stop: a marketing opt-out
        ("enx-0111-a", ["marketing_optout"]),
    ],
)
def test_a_few_literal_labels(rid, labels):
    # guards against a regeneration that shifts groups and so mislabels the texts chosen here
    by_id = {row["id"]: row for _, _, row in _rows()}
    assert by_id[rid]["labels"] == labels
