"""Checks on the everyday Polish corpus lines with prefix "pla-" (classifiers/data/pl_everyday_a*.jsonl).

These lines are read as they are by the trainer and by grouped cross-validation: a malformed
line, an unknown label, an id shared with another writer's file, or variants of one text with
different labels would skew the model or leak a text across folds without anyone noticing.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "classifiers" / "data"
FILES = sorted(DATA.glob("pl_everyday_a*.jsonl"))

LABELS = {
    "access", "rectification", "erasure", "restriction", "portability", "objection",
    "marketing_optout", "complaint", "breach_report", "other",
}
FIELDS = ("id", "group", "lang", "labels", "subject", "body")


def _rows() -> list[tuple[str, int, str]]:
    return [
        (path.name, n, line)
        for path in FILES
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
    ]


ROWS = _rows()
RECS = [json.loads(line) for _, _, line in ROWS]


def test_files_exist_and_are_not_empty():
    # guards against a rename that leaves the trainer without these lines
    assert FILES, f"no pl_everyday_a*.jsonl under {DATA}"
    assert len(RECS) >= 1200


def test_every_line_has_exact_fields_and_text():
    # an extra key, a blank line or an empty body breaks strict readers of the corpus
    for name, n, line in ROWS:
        rec = json.loads(line)
        assert tuple(rec) == FIELDS, f"{name}:{n} fields {tuple(rec)}"
        assert isinstance(rec["subject"], str) and isinstance(rec["body"], str)
        assert rec["body"].strip(), f"{name}:{n} empty body"
        assert "\\u0" not in line, f"{name}:{n} written with ascii escapes"


def test_labels_known_and_other_alone():
    for rec in RECS:
        labels = rec["labels"]
        assert labels and set(labels) <= LABELS, rec["id"]
        assert len(set(labels)) == len(labels), f"{rec['id']} repeats a label"
        if "other" in labels:
            assert labels == ["other"], f"{rec['id']}: 'other' combined with {labels}"


def test_prefix_lang_and_group_shape():
    # a line without the "pla-" prefix could collide with another writer's numbering
    for rec in RECS:
        assert re.fullmatch(r"pla-\d{4}", rec["group"]), rec["group"]
        assert re.fullmatch(re.escape(rec["group"]) + r"-[abc]", rec["id"]), rec["id"]
        assert rec["lang"] == "pl", rec["id"]


def test_ids_unique_across_all_corpus_files():
    # the loader refuses duplicate ids; this names the clash before training does
    ids = Counter()
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                ids[json.loads(line)["id"]] += 1
    assert [i for i, c in ids.items() if c > 1] == []


def test_groups_have_a_base_line_at_most_three_lines_and_one_label_set():
    # variants with different labels would teach the model that spelling changes the request
    groups = defaultdict(list)
    for rec in RECS:
        groups[rec["group"]].append(rec)
    assert len(groups) >= 450
    for group, recs in groups.items():
        assert any(r["id"] == f"{group}-a" for r in recs), f"{group} has no base line"
        assert len(recs) <= 3, f"{group} has {len(recs)} lines"
        assert len({tuple(r["labels"]) for r in recs}) == 1, f"{group} labels differ"


def test_no_text_repeats_another_group_in_any_polish_file():
    # the same text in two groups would sit on both sides of a cross-validation fold
    seen: dict[tuple[str, str], str] = {}
    for path in sorted(DATA.glob("pl_*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            key = (rec["subject"].strip().lower(), rec["body"].strip().lower())
            owner = seen.setdefault(key, rec["group"])
            assert owner == rec["group"], f"{rec['id']} repeats {owner}"


def test_all_ten_labels_are_covered():
    groups_per_label = defaultdict(set)
    for rec in RECS:
        for label in rec["labels"]:
            groups_per_label[label].add(rec["group"])
    assert set(groups_per_label) == LABELS
    # the weak spots this file exists for must be well represented
    assert len(groups_per_label["other"]) >= 80
    assert len(groups_per_label["breach_report"]) >= 40
    assert len(groups_per_label["complaint"]) >= 40
    assert len(groups_per_label["marketing_optout"]) >= 60


def test_a_few_literal_labels():
    # pins labelling rules that are easiest to get wrong, by text rather than by id
    by_body = {r["body"]: r["labels"] for r in RECS if r["id"].endswith("-a")}
    # a one-line "what do you hold about me" is an access request
    assert by_body["co o mnie macie?"] == ["access"]
    # someone else's order confirmations arriving in my mailbox is a breach report, not a complaint
    assert by_body[next(b for b in by_body if b.startswith("Witam, od tygodnia przychodzą"))] == [
        "breach_report"
    ]
    # anger about an ignored deletion, with no leak reported, is a complaint
    assert by_body[next(b for b in by_body if b.startswith("Jestem wściekły. Rok temu"))] == [
        "complaint"
    ]
    # a leak reported again together with a complaint about silence carries both labels
    assert by_body[next(b for b in by_body if b.startswith("Szanowni Państwo,\n3 tygodnie temu"))] == [
        "complaint", "breach_report"
    ]


def test_variants_without_diacritics_are_plentiful():
    # phone-typed Polish without diacritics must be well represented
    plain = str.maketrans("", "", "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ")
    without = [r for r in RECS if (r["subject"] + r["body"]) == (r["subject"] + r["body"]).translate(plain)]
    assert len(without) >= len(RECS) // 3
