"""Checks on the formal-register GDPR letters in French, Spanish, Italian, Portuguese and
Romanian (classifiers/data/{fr,es,it,pt,ro}_formal.jsonl)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "classifiers" / "data"
# language -> (id prefix, minimum number of lines the corpus brief asks for)
FILES = {"fr": ("frf", 110), "es": ("esf", 110), "it": ("itf", 90), "pt": ("ptf", 80), "ro": ("rof", 40)}
LABELS = {
    "access", "rectification", "erasure", "restriction", "portability",
    "objection", "marketing_optout", "complaint", "breach_report", "other",
}
FIELDS = {"id", "group", "lang", "labels", "subject", "body"}
# Kinds 1-8 of the brief, as the label sets that must each appear in every language.
KINDS = [
    ["access"], ["access", "portability"], ["rectification"], ["erasure"],
    ["erasure", "objection", "restriction"], ["marketing_optout"], ["complaint"], ["other"],
]


def _rows(lang: str) -> list[dict]:
    path = DATA / f"{lang}_formal.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


ROWS = {lang: _rows(lang) for lang in FILES}


@pytest.mark.parametrize("lang", FILES)
def test_records_are_complete_and_ids_follow_the_prefix(lang):
    # A missing field, empty body or id outside its group would crash training or
    # let one letter's variants leak across the train/test split.
    prefix, _ = FILES[lang]
    for n, row in enumerate(ROWS[lang], 1):
        where = f"{lang}_formal.jsonl:{n}"
        assert set(row) == FIELDS, where
        assert isinstance(row["subject"], str), where
        assert isinstance(row["body"], str) and len(row["body"].strip()) > 40, where
        assert re.fullmatch(rf"{prefix}-\d{{4}}", row["group"]), where
        assert re.fullmatch(rf"{row['group']}-[a-z]", row["id"]), where
        assert row["lang"] == lang, where


@pytest.mark.parametrize("lang", FILES)
def test_labels_are_known_and_other_stands_alone(lang):
    # A misspelt label trains a phantom class; "other" next to a right contradicts itself.
    for n, row in enumerate(ROWS[lang], 1):
        labels = row["labels"]
        assert labels and set(labels) <= LABELS, f"{lang}:{n} {labels}"
        assert len(set(labels)) == len(labels), f"{lang}:{n}"
        if "other" in labels:
            assert labels == ["other"], f"{lang}:{n} {labels}"


@pytest.mark.parametrize("lang", FILES)
def test_sizes_and_kinds_meet_the_brief(lang):
    # Too few lines, or a kind of letter missing, leaves the gap the corpus was written to close.
    _, minimum = FILES[lang]
    rows = ROWS[lang]
    assert len(rows) >= minimum
    seen = Counter(tuple(r["labels"]) for r in rows)
    for kind in KINDS:
        assert seen[tuple(kind)] >= 2, f"{lang}: no letters labelled {kind}"


@pytest.mark.parametrize("lang", FILES)
def test_variants_of_one_letter_share_labels_and_stay_few(lang):
    # Variants with different labels would teach contradictory answers for one text;
    # more than two would overweight one template.
    groups: dict[str, list[dict]] = {}
    for row in ROWS[lang]:
        groups.setdefault(row["group"], []).append(row)
    for gid, members in groups.items():
        assert len(members) <= 2, gid
        assert len({tuple(m["labels"]) for m in members}) == 1, gid
        assert len({(m["subject"], m["body"]) for m in members}) == len(members), f"{gid} duplicate variant"


@pytest.mark.parametrize("lang", FILES)
def test_marketing_letters_avoid_the_easy_words(lang):
    # The brief asks for objections to direct marketing phrased formally; "newsletter" or
    # "unsubscribe" would let the model pass on a keyword instead of the register.
    easy = re.compile(r"newsletter|unsubscrib|désabonn|desuscrib|darse de baja|disiscriv|cancelar a subscri|dezabon", re.I)
    for row in ROWS[lang]:
        if row["labels"] == ["marketing_optout"]:
            assert not easy.search(row["subject"] + " " + row["body"]), row["id"]


def test_ids_are_unique_across_the_whole_corpus():
    # Every classifiers/data/*.jsonl file shares one id space; a clash would make
    # error analysis and relabelling point at the wrong letter.
    seen: dict[str, str] = {}
    for path in sorted(DATA.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                rid = json.loads(line).get("id")
                assert rid not in seen, f"{rid} in {path.name}:{n} and {seen[rid]}"
                seen[rid] = f"{path.name}:{n}"
