"""Checks on the Polish half of the classifier's labelled corpus (classifiers/data/pl_*.jsonl).

The trainer and the grouped cross-validation read these files as they are; a malformed line,
an unknown label or a variant filed under the wrong group would silently skew the model or let
variants of one text straddle training and test folds.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "classifiers" / "data"
SHARED_REQUESTS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "requests"

LABELS = {
    "access", "rectification", "erasure", "restriction", "portability", "objection",
    "marketing_optout", "complaint", "breach_report", "other",
}
FIELDS = ("id", "group", "lang", "labels", "subject", "body")
MIN_LINES = 1100
MIN_GROUPS = 450
MIN_GROUPS_PER_LABEL = 70
MIN_GROUPS_OTHER = 90
MAX_VARIANTS_PER_GROUP = 3


def _records() -> list[tuple[str, int, dict]]:
    rows = []
    for path in sorted(DATA.glob("pl_*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            rows.append((path.name, n, line))
    return rows


RAW = _records()


def _parsed() -> list[dict]:
    return [json.loads(line) for _, _, line in RAW]


def test_corpus_files_exist():
    # guards against a renamed data folder leaving the trainer with no Polish at all
    assert RAW, f"no pl_*.jsonl lines under {DATA}"


def test_every_line_parses_with_exact_fields():
    # a blank line, a trailing comma or an extra key breaks strict readers of the corpus
    for name, n, line in RAW:
        rec = json.loads(line)
        assert tuple(rec) == FIELDS, f"{name}:{n} fields {tuple(rec)}"
        assert isinstance(rec["labels"], list) and rec["labels"], f"{name}:{n} no labels"
        assert isinstance(rec["subject"], str) and isinstance(rec["body"], str)
        assert rec["body"].strip(), f"{name}:{n} empty body"


def test_lines_are_written_without_ascii_escapes():
    # ensure_ascii=False keeps the files readable and diffable by a Polish reviewer
    for name, n, line in RAW:
        assert "\\u0" not in line, f"{name}:{n} has \\u escapes"


def test_labels_are_known_and_other_stands_alone():
    for rec in _parsed():
        labels = rec["labels"]
        assert set(labels) <= LABELS, rec["id"]
        assert len(set(labels)) == len(labels), f"{rec['id']} repeats a label"
        if "other" in labels:
            assert labels == ["other"], f"{rec['id']}: 'other' combined with {labels}"


def test_ids_unique_and_group_prefix_consistent():
    # a variant under the wrong group would leak across cross-validation folds
    ids = Counter(rec["id"] for rec in _parsed())
    assert [i for i, c in ids.items() if c > 1] == []
    for rec in _parsed():
        assert re.fullmatch(r"pl[a-z]?-\d{4}", rec["group"]), rec["group"]  # "plf-", "pla-", "plb-": other writers
        assert re.fullmatch(re.escape(rec["group"]) + r"-[a-z]", rec["id"]), rec["id"]
        assert rec["lang"] == "pl", rec["id"]


def test_variants_share_labels_and_stay_few():
    groups = defaultdict(list)
    for rec in _parsed():
        groups[rec["group"]].append(rec)
    for group, recs in groups.items():
        assert any(r["id"].endswith("-a") for r in recs), f"{group} has no base line"
        assert len(recs) <= MAX_VARIANTS_PER_GROUP, f"{group} has {len(recs)} lines"
        assert len({tuple(sorted(r["labels"])) for r in recs}) == 1, f"{group} labels differ"


def test_base_texts_are_distinct():
    # two groups with the same text would put one text on both sides of a fold
    seen = {}
    for rec in _parsed():
        key = (rec["subject"].strip().lower(), rec["body"].strip().lower())
        assert seen.setdefault(key, rec["group"]) == rec["group"], (
            f"{rec['id']} repeats {seen[key]}"
        )


def test_size_targets():
    recs = _parsed()
    assert len(recs) >= MIN_LINES
    assert len({r["group"] for r in recs}) >= MIN_GROUPS


def test_every_label_has_enough_groups():
    groups_per_label = defaultdict(set)
    for rec in _parsed():
        for label in rec["labels"]:
            groups_per_label[label].add(rec["group"])
    short = {
        label: len(groups_per_label[label])
        for label in LABELS
        if len(groups_per_label[label])
        < (MIN_GROUPS_OTHER if label == "other" else MIN_GROUPS_PER_LABEL)
    }
    assert short == {}


def test_a_few_literal_labels():
    # pins the labelling rules from DESIGN.md that are easiest to get wrong
    by_id = {r["id"]: r for r in _parsed()}
    # asks for a copy, explicitly not for deletion -> access only
    assert by_id["pl-0009-a"]["labels"] == ["access"]
    assert "nie chcę na razie usuwać konta" in by_id["pl-0009-a"]["body"]
    # "wypiszcie mnie" above a newsletter footer is an opt-out ...
    assert by_id["pl-0081-a"]["labels"] == ["marketing_optout"]
    assert by_id["pl-0081-a"]["body"].startswith("wypiszcie mnie")
    # ... while a product question above the same kind of footer is not
    assert by_id["pl-0138-a"]["labels"] == ["other"]
    assert "wypisz" in by_id["pl-0138-a"]["body"]
    # a DPA to sign, a GDPR-tool sales pitch and a CV with a consent clause are hard negatives
    for rid in ("pl-0124-a", "pl-0125-a", "pl-0126-a"):
        assert by_id[rid]["labels"] == ["other"], rid


def test_variants_without_diacritics_exist():
    # the model must see phone-typed Polish; the generator's -b lines provide it
    plain = str.maketrans("", "", "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ")
    recs = _parsed()
    without = [r for r in recs if (r["subject"] + r["body"]) == (r["subject"] + r["body"]).translate(plain)]
    assert len(without) >= len(recs) // 3


def test_no_line_copied_from_the_shared_corpus():
    # the shared corpus is for evaluation only; a copied sentence would inflate its scores
    if not SHARED_REQUESTS.is_dir():
        pytest.skip(f"shared corpus not found at {SHARED_REQUESTS}")
    ours = set()
    for rec in _parsed():
        for line in rec["body"].split("\n"):
            line = " ".join(line.split()).lower()
            if len(line) >= 60 and not line.startswith(">"):
                ours.add(line)
    theirs = set()
    for path in SHARED_REQUESTS.rglob("*"):
        if path.is_file() and path.stat().st_size < 2_000_000:
            text = path.read_text(encoding="utf-8", errors="ignore")
            for line in text.split("\n"):
                theirs.add(" ".join(line.split()).lower())
    assert ours & theirs == set()
