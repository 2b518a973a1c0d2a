"""Shape of the classifier corpus (classifiers/data/*.jsonl): every check of tests/corpus_checks.py
on every slice that asks for it, the hand-checked labels of each slice, the rules that hold across
the whole corpus, and the few checks only one slice's brief asks for."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from classifiers.corpus import read_jsonl
from corpus_checks import SLICE, SLICES, check_literal, checks_for, corpus_files, corpus_rows, rows

CASES = [(s, check) for s in SLICES for check in checks_for(s)]
LITERALS = [(s, lit) for s in SLICES for lit in s.literals]


@pytest.mark.parametrize("slice_, check", CASES, ids=[f"{s.name}-{c.__name__}" for s, c in CASES])
def test_slice_shape(slice_, check):
    check(slice_)


@pytest.mark.parametrize(
    "slice_, lit", LITERALS, ids=[f"{s.name}-{lit.rid or lit.text[:24]}" for s, lit in LITERALS]
)
def test_hand_checked_labels(slice_, lit):
    # guards against a regeneration that shifts groups and so mislabels the texts chosen here
    check_literal(slice_, lit)


# ---------------------------------------------------------------- the whole corpus

def test_every_corpus_line_is_a_json_object():
    # a blank line or a stray fragment breaks readers that take the files line by line
    for path in corpus_files():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert isinstance(json.loads(line), dict), f"{path.name}:{n}"


def test_ids_unique_across_the_whole_corpus():
    # the loader keys examples by id and refuses duplicates; this names the clash and both places
    seen: dict[str, str] = {}
    for row in corpus_rows():
        rid = row.rec["id"]
        assert rid not in seen, f"{rid} in {row.where} and {seen[rid]}"
        seen[rid] = row.where
    # and as the project's own reader sees them, which refuses a whole file on one bad line
    ids = Counter(e.id for path in corpus_files() for e in read_jsonl(path))
    assert [i for i, c in ids.items() if c > 1] == []


def test_no_text_under_two_groups_anywhere():
    # a text in two groups (or copied into another file) would sit on both sides of a fold
    seen: dict[tuple[str, str], str] = {}
    for row in corpus_rows():
        key = (row.rec["subject"].strip().lower(), row.rec["body"].strip().lower())
        owner = seen.setdefault(key, row.rec["group"])
        assert owner == row.rec["group"], f"{row.where} repeats {owner}"


# ---------------------------------------------------------------- checks one slice's brief asks for

def test_formal_reminders_and_authority_letters_are_labelled_as_the_brief_says():
    # A reminder threatening a complaint chases the right, it is not a complaint; an authority's
    # own request for records is "other", but an authority forwarding a complaint is "complaint".
    pl = [row.rec for row in rows(SLICE["pl_formal"])]
    reminders = [r for r in pl if r["subject"].startswith("Ponaglenie")]
    assert reminders and all("complaint" not in r["labels"] for r in reminders)
    assert any(r["labels"] == ["access"] for r in reminders)
    records = [r for r in pl if "rejestru czynności przetwarzania" in r["body"]]
    assert records and all(r["labels"] == ["other"] for r in records)
    forwarded = [r for r in pl if r["subject"].startswith("Pismo Prezesa UODO")]
    assert forwarded and all(r["labels"] == ["complaint"] for r in forwarded)
    # Access letters that merely reserve the right to complain keep the single label.
    reserving = [row.rec for lang in ("cs", "hr", "el", "uk", "pl") for row in rows(SLICE[f"{lang}_formal"])
                 if "zastrzegam sobie prawo wniesienia skargi" in row.rec["body"]
                 or "vyhrazuji právo podat stížnost" in row.rec["body"]]
    assert reserving and all("complaint" not in r["labels"] for r in reserving)


def test_english_newsletter_reply_labels_follow_the_text_above_the_quote():
    # The same quoted footer with an unsubscribe link appears under an opt-out
    # and under a product question: the label must come from what the sender wrote.
    quoted = [row.rec for row in rows(SLICE["en_all"])
              if row.rec["id"].endswith("-a") and "\n> " in row.rec["body"] and "nsubscribe" in row.rec["body"]]
    labels = {label for rec in quoted for label in rec["labels"]}
    assert {"marketing_optout", "other"} <= labels


def test_plb_replies_to_our_acknowledgements_are_represented():
    # replies quoting "[IODO-YYYY-NNNNN]" were a measured blind spot of the model
    recs = [row.rec for row in rows(SLICE["pl_everyday_plb"])]
    replies = {r["group"] for r in recs if re.search(r"\[IODO-\d{4}-\d{5}\]", r["subject"] + r["body"])}
    assert len(replies) >= 40


def test_plc_emphasised_situations_are_represented():
    # these were the brief's weak spots; a later edit must not quietly drop them
    bases = [row.rec for row in rows(SLICE["pl_everyday_plc"]) if row.rec["id"].endswith("-a")]
    quoted = [r for r in bases if sum(l.startswith(">") for l in r["body"].split("\n")) >= 3]
    assert len(quoted) >= 20, len(quoted)
    multi = [r for r in bases if len(r["labels"]) >= 2]
    assert len(multi) >= 25, len(multi)
    work = [r for r in bases if re.search(r"akt\w* osobow|CV|rekrutac|monitoring|kamer", r["subject"] + r["body"])]
    assert len(work) >= 25, len(work)
