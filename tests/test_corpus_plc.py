"""Checks on the everyday Polish mail of classifiers/data/pl_everyday_c.jsonl (group prefix "plc-").

These lines are employees, former employees and job applicants asking about their own data,
requests written above a long quoted support thread, imperfect Polish from Ukrainian and English
speakers, multi-label mail, and hard negatives full of RODO words that ask nothing for the sender.
The trainer reads every classifiers/data/*.jsonl as it is, so a malformed line, an unknown label,
an id another file already uses, or variants of one text with different labels would silently
skew the model or let one text straddle the folds of the grouped cross-validation.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "classifiers" / "data"
SHARED_REQUESTS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "requests"
PATH = DATA / "pl_everyday_c.jsonl"

LABELS = {
    "access", "rectification", "erasure", "restriction", "portability", "objection",
    "marketing_optout", "complaint", "breach_report", "other",
}
FIELDS = ("id", "group", "lang", "labels", "subject", "body")


def _rows(paths) -> list[tuple[str, int, str]]:
    return [
        (p.name, n, line)
        for p in paths
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if line.strip()
    ]


RAW = _rows([PATH]) if PATH.exists() else []
RECS = [json.loads(line) for _, _, line in RAW]


def _groups_per_label() -> dict[str, set[str]]:
    out = defaultdict(set)
    for rec in RECS:
        for label in rec["labels"]:
            out[label].add(rec["group"])
    return out


def test_file_exists_and_has_the_promised_size():
    # guards against a renamed or truncated file silently dropping this part of the corpus
    assert PATH.exists(), f"{PATH} missing"
    assert len(RECS) >= 500
    assert len({r["group"] for r in RECS}) >= 170


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
        assert re.fullmatch(r"plc-\d{4}", rec["group"]), rec["group"]
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


def test_every_label_is_covered():
    # a label with a handful of groups gets a threshold tuned on noise
    per_label = _groups_per_label()
    assert set(per_label) == LABELS
    for label, groups in per_label.items():
        assert len(groups) >= (25 if label == "other" else 15), (label, len(groups))


def test_the_emphasised_situations_are_represented():
    # these were the brief's weak spots; a later edit must not quietly drop them
    bases = [r for r in RECS if r["id"].endswith("-a")]
    quoted = [r for r in bases if sum(l.startswith(">") for l in r["body"].split("\n")) >= 3]
    assert len(quoted) >= 20, len(quoted)
    multi = [r for r in bases if len(r["labels"]) >= 2]
    assert len(multi) >= 25, len(multi)
    work = [r for r in bases if re.search(r"akt\w* osobow|CV|rekrutac|monitoring|kamer", r["subject"] + r["body"])]
    assert len(work) >= 25, len(work)


def test_a_few_literal_labels():
    # pins the labelling rules that are easiest to get wrong (DESIGN.md, "Request types")
    def find(fragment: str) -> dict:
        return next(r for r in RECS if fragment in r["body"] and r["id"].endswith("-a"))

    # keep the recording, do not send it -> restriction, not access
    assert find("Nie chcę go teraz otrzymywać")["labels"] == ["restriction"]
    # camera over an employee's desk, legitimate interest contested -> objection, not complaint
    assert find("kamera obejmuje ekran mojego komputera")["labels"] == ["objection"]
    # a student's thesis interview uses RODO words but asks nothing for the sender -> other
    assert find("art. 22² Kodeksu pracy")["labels"] == ["other"]
    # a colleague's payslips in one's inbox is someone else's data -> breach_report
    assert find("paski_marzec.xlsx")["labels"] == ["breach_report"]


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
