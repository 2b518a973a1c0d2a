"""Checks on the everyday Polish mail of classifiers/data/pl_everyday_b*.jsonl (group prefix "plb-").

These lines are rectification, restriction, portability and objection in everyday registers,
replies to our own acknowledgements, and people writing for others. The trainer reads every
classifiers/data/*.jsonl as it is, so a malformed line, an unknown label, an id that another
file already uses, or variants of one text with different labels would silently skew the model
or let one text straddle the folds of the grouped cross-validation.
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
FILES = sorted(DATA.glob("pl_everyday_b*.jsonl"))


def _rows(paths) -> list[tuple[str, int, str]]:
    return [
        (p.name, n, line)
        for p in paths
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if line.strip()
    ]


RAW = _rows(FILES)
RECS = [json.loads(line) for _, _, line in RAW]


def test_files_exist_and_have_the_promised_size():
    # guards against a renamed file silently dropping this part of the corpus from training
    assert FILES, f"no pl_everyday_b*.jsonl under {DATA}"
    assert len(RECS) >= 1200
    assert len({r["group"] for r in RECS}) >= 450


def test_exact_fields_and_no_ascii_escapes():
    # strict readers reject extra keys; \\u escapes would make the Polish unreadable in review
    for name, n, line in RAW:
        rec = json.loads(line)
        assert tuple(rec) == FIELDS, f"{name}:{n} fields {tuple(rec)}"
        assert isinstance(rec["subject"], str) and rec["body"].strip(), f"{name}:{n}"
        assert "\\u" not in line, f"{name}:{n} has \\u escapes"


def test_ids_groups_and_lang():
    # a variant filed under another group would leak across cross-validation folds
    for rec in RECS:
        assert re.fullmatch(r"plb-\d{4}", rec["group"]), rec["group"]
        assert re.fullmatch(re.escape(rec["group"]) + r"-[abc]", rec["id"]), rec["id"]
        assert rec["lang"] == "pl", rec["id"]


def test_ids_unique_across_all_corpus_files():
    # two files using one id would make relabels and error reports point at the wrong line
    counts = Counter(json.loads(line)["id"] for _, _, line in _rows(sorted(DATA.glob("*.jsonl"))))
    assert [i for i, c in counts.items() if c > 1] == []


def test_labels_known_and_other_alone():
    for rec in RECS:
        labels = rec["labels"]
        assert labels and set(labels) <= LABELS, rec["id"]
        assert len(set(labels)) == len(labels), f"{rec['id']} repeats a label"
        if "other" in labels:
            assert labels == ["other"], f"{rec['id']}: 'other' combined with {labels}"


def test_groups_have_a_base_at_most_three_lines_and_one_label_set():
    groups = defaultdict(list)
    for rec in RECS:
        groups[rec["group"]].append(rec)
    for group, recs in groups.items():
        assert any(r["id"] == f"{group}-a" for r in recs), f"{group} has no base line"
        assert len(recs) <= 3, f"{group} has {len(recs)} lines"
        assert len({tuple(sorted(r["labels"])) for r in recs}) == 1, f"{group} labels differ"


def test_texts_are_not_repeated_across_groups_or_files():
    # a text in two groups (or copied from another file) would sit on both sides of a fold
    seen = {}
    for _, _, line in _rows(sorted(DATA.glob("*.jsonl"))):
        rec = json.loads(line)
        key = (rec["subject"].strip().lower(), rec["body"].strip().lower())
        assert seen.setdefault(key, rec["group"]) == rec["group"], f"{rec['id']} repeats {seen[key]}"


def test_every_label_is_present_with_the_focus_labels_well_covered():
    groups_per_label = defaultdict(set)
    for rec in RECS:
        for label in rec["labels"]:
            groups_per_label[label].add(rec["group"])
    assert set(groups_per_label) == LABELS
    for label in ("rectification", "restriction", "portability", "objection"):
        assert len(groups_per_label[label]) >= 50, (label, len(groups_per_label[label]))


def test_replies_to_our_acknowledgements_are_represented():
    # replies quoting "[IODO-YYYY-NNNNN]" were a measured blind spot of the model
    replies = {r["group"] for r in RECS if re.search(r"\[IODO-\d{4}-\d{5}\]", r["subject"] + r["body"])}
    assert len(replies) >= 40


def test_a_few_literal_labels():
    # pins the labelling rules that are easiest to get wrong (DESIGN.md, "Request types")
    bodies = {r["id"]: r for r in RECS}
    # a newsletter opt-out is fine with this sender; only analytics is refused -> objection
    rec = next(r for r in RECS if "wylaczcie mnie z analityki" in r["body"])
    assert rec["labels"] == ["objection"], rec["id"]
    # keeps the account and deletes nothing, wants only a CSV export -> portability
    rec = next(r for r in RECS if "nie interesuje mnie zestawienie" in r["body"].lower())
    assert rec["labels"] == ["portability"], rec["id"]
    # an account kept but frozen for a year -> restriction, not erasure
    rec = next(r for r in RECS if "Wrócę, to odmrozimy" in r["body"])
    assert rec["labels"] == ["restriction"], rec["id"]
    assert bodies


def test_no_line_copied_from_the_shared_corpus():
    # the shared corpus is for evaluation only; a copied sentence would inflate its scores
    if not SHARED_REQUESTS.is_dir():
        pytest.skip(f"shared corpus not found at {SHARED_REQUESTS}")
    ours = {
        " ".join(line.split()).lower()
        for rec in RECS
        for line in rec["body"].split("\n")
        if len(line) >= 60 and not line.startswith(">")
    }
    theirs = set()
    for path in SHARED_REQUESTS.rglob("*"):
        if path.is_file() and path.stat().st_size < 2_000_000:
            for line in path.read_text(encoding="utf-8", errors="ignore").split("\n"):
                theirs.add(" ".join(line.split()).lower())
    assert ours & theirs == set()
