"""Shape checks on the classifier corpus (classifiers/data/*.jsonl), one table of slices and one set of checks.

The trainer and the grouped cross-validation read every corpus line as it is: a malformed line, an
unknown label, an id another file already uses, a group whose variants disagree, or one text filed
under two groups would silently skew the model or let a text straddle the folds. Each writer's part
of the corpus (a "slice": one or more files with one language and one group prefix) is described
once in SLICES with the figures its brief asks for; tests/test_corpus_shape.py runs every check that
applies to a slice, so a rule is written once and a slice only states its figures.

Each check takes a Slice and raises AssertionError naming the file and line at fault.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from classifiers.corpus import load_corpus
from inbox_bot.values import LABELS

DATA = Path(__file__).resolve().parents[1] / "classifiers" / "data"
SHARED_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
FIELDS = ("id", "group", "lang", "labels", "subject", "body")
RIGHTS = tuple(label for label in LABELS if label != "other")
# The eight kinds of formal letter the formal-letter briefs ask for in every language, as written.
FORMAL_KINDS = (
    ("access",), ("access", "portability"), ("rectification",), ("erasure",),
    ("erasure", "objection", "restriction"), ("marketing_optout",), ("complaint",), ("other",),
)
POLISH_DIACRITICS = "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ"


@dataclass(frozen=True)
class Literal:
    """One hand-checked line whose labels must not change: picked by id, or by a piece of its body.

    `match` says how `text` meets the body: "in", "in_lower" (in the lowercased body), "starts",
    "equals". With an id and a text, the text pins that the id still names the same letter.
    """

    labels: tuple[str, ...]
    rid: str | None = None
    text: str | None = None
    match: str = "in"
    base_only: bool = False


@dataclass(frozen=True)
class Slice:
    """One writer's part of the corpus and the figures its brief asks for (None: not asked)."""

    name: str
    patterns: tuple[str, ...]  # globs under DATA; each must match at least one file
    lang: str
    group_prefix: str  # regex before "-NNNN"
    id_suffix: str = "[abc]"  # regex after "<group>-"
    max_variants: int = 3
    min_lines: int = 1
    min_groups: int | None = None
    min_body_chars: int = 1
    min_groups_per_label: dict[str, int] | None = None
    min_rows_per_label: dict[str, int] | None = None
    min_rows_per_label_list: dict[tuple[str, ...], int] | None = None
    min_multi_label_groups: int | None = None
    without_diacritics_one_in: int | None = None  # at least len(lines) // N lines without diacritics
    canonical_label_order: bool = False
    no_placeholders: bool = False
    texts_unique_in_slice: bool = False
    bodies_not_elsewhere: bool = False
    easy_marketing_words: str | None = None  # regex, case-insensitive
    exclusive_prefix: bool = False  # no other file uses the group prefix
    loader_reads_slice: bool = False
    not_copied_from_shared: bool = False
    literals: tuple[Literal, ...] = field(default=())

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Row:
    """One non-blank corpus line, where it stands, and its decoded record."""

    file: str
    n: int
    line: str
    rec: dict

    @property
    def where(self) -> str:
        return f"{self.file}:{self.n}"


def floors(default: int, **specific: int) -> dict[str, int]:
    """A per-label minimum for every label: `default`, except the labels named."""
    return {label: specific.get(label, default) for label in LABELS}


# ---------------------------------------------------------------- reading

@functools.cache
def slice_files(patterns: tuple[str, ...]) -> tuple[Path, ...]:
    return tuple(sorted({p for pattern in patterns for p in DATA.glob(pattern)}))


@functools.cache
def _file_lines(path: Path) -> tuple[str, ...]:
    return tuple(path.read_text(encoding="utf-8").splitlines())


@functools.cache
def _file_rows(path: Path) -> tuple[Row, ...]:
    return tuple(
        Row(path.name, n, line, json.loads(line))
        for n, line in enumerate(_file_lines(path), 1)
        if line.strip()
    )


def rows(s: Slice) -> list[Row]:
    return [row for path in slice_files(s.patterns) for row in _file_rows(path)]


def corpus_files() -> list[Path]:
    return sorted(DATA.glob("*.jsonl"))


def corpus_rows() -> list[Row]:
    return [row for path in corpus_files() for row in _file_rows(path)]


def _groups(s: Slice) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = defaultdict(list)
    for row in rows(s):
        out[row.rec["group"]].append(row)
    return out


def _groups_per_label(s: Slice) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for row in rows(s):
        for label in row.rec["labels"]:
            out[label].add(row.rec["group"])
    return out


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


@functools.cache
def _loaded_examples() -> tuple:
    return tuple(load_corpus())


@functools.cache
def _shared_lines() -> frozenset[str]:
    lines = set()
    for path in SHARED_CORPORA.rglob("*"):
        if path.is_file() and path.stat().st_size < 2_000_000:
            for line in path.read_text(encoding="utf-8", errors="ignore").split("\n"):
                lines.add(_norm(line))
    return frozenset(lines)


# Checks a slice gets only when its table entry sets the named field (see checks_for).
WHEN_ASKED: list[tuple[Callable[[Slice], None], str]] = []


def asked_by(field_name: str) -> Callable[[Callable[[Slice], None]], Callable[[Slice], None]]:
    def register(check: Callable[[Slice], None]) -> Callable[[Slice], None]:
        WHEN_ASKED.append((check, field_name))
        return check
    return register


# ---------------------------------------------------------------- checks on lines

def files_present(s: Slice) -> None:
    # a renamed or missing file would silently drop this part of the corpus from training
    for pattern in s.patterns:
        assert slice_files((pattern,)), f"no classifiers/data/{pattern}"


def no_blank_lines(s: Slice) -> None:
    # strict readers of the corpus (and json.loads line by line) fail on a blank line
    for path in slice_files(s.patterns):
        for n, line in enumerate(_file_lines(path), 1):
            assert line.strip(), f"{path.name}:{n} is blank"


def fields_exact_in_order(s: Slice) -> None:
    # a missing or extra key crashes strict readers; a stray key would be silently ignored
    for row in rows(s):
        assert tuple(row.rec) == FIELDS, f"{row.where} fields {tuple(row.rec)}"


def subject_is_text(s: Slice) -> None:
    for row in rows(s):
        assert isinstance(row.rec["subject"], str), row.where


def body_is_text(s: Slice) -> None:
    # an empty body trains on nothing; the formal briefs ask for whole letters (min_body_chars)
    for row in rows(s):
        body = row.rec["body"]
        assert isinstance(body, str) and len(body.strip()) >= s.min_body_chars, row.where


def no_ascii_escapes(s: Slice) -> None:
    # ensure_ascii=False keeps the lines readable and diffable by a native reviewer
    for row in rows(s):
        assert "\\u" not in row.line, f"{row.where} has \\u escapes"


def lang_matches(s: Slice) -> None:
    # the per-language evaluation trusts the field; a stray line would skew it
    for row in rows(s):
        assert row.rec["lang"] == s.lang, row.where


def group_named_by_prefix(s: Slice) -> None:
    # a group outside the writer's prefix could collide with another writer's numbering
    for row in rows(s):
        assert re.fullmatch(rf"{s.group_prefix}-\d{{4}}", row.rec["group"]), f"{row.where} {row.rec['group']}"


def id_is_group_plus_suffix(s: Slice) -> None:
    # a variant filed under another group would leak one text across cross-validation folds
    for row in rows(s):
        assert re.fullmatch(re.escape(row.rec["group"]) + "-" + s.id_suffix, row.rec["id"]), row.where


@asked_by("no_placeholders")
def no_template_placeholders(s: Slice) -> None:
    # a leftover {placeholder} from a letter template would teach the model template syntax
    for row in rows(s):
        assert not re.search(r"\{[a-z0-9_]+\}", row.rec["subject"] + row.rec["body"]), row.where


# ---------------------------------------------------------------- checks on labels

def labels_known(s: Slice) -> None:
    # an unknown or misspelt label would train an extra class
    for row in rows(s):
        labels = row.rec["labels"]
        assert isinstance(labels, list) and labels and set(labels) <= set(LABELS), f"{row.where} {labels}"


def labels_not_repeated(s: Slice) -> None:
    for row in rows(s):
        labels = row.rec["labels"]
        assert len(set(labels)) == len(labels), f"{row.where} repeats a label"


def other_stands_alone(s: Slice) -> None:
    # "other" beside a right would teach the model that a request is also "not a request"
    for row in rows(s):
        if "other" in row.rec["labels"]:
            assert row.rec["labels"] == ["other"], f"{row.where} {row.rec['labels']}"


@asked_by("canonical_label_order")
def labels_in_canonical_order(s: Slice) -> None:
    # the brief for these files asks for labels in LABELS order
    for row in rows(s):
        labels = row.rec["labels"]
        assert labels == [label for label in LABELS if label in labels], f"{row.where} not in LABELS order"


# ---------------------------------------------------------------- checks on groups and texts

def group_size_at_most(s: Slice) -> None:
    # more variants than the brief allows would over-weight one text
    for group, members in _groups(s).items():
        assert len(members) <= s.max_variants, f"{group} has {len(members)} lines"


def group_has_one_base(s: Slice) -> None:
    # the -a line is the base text the others vary; texts are deduplicated and counted by it
    for group, members in _groups(s).items():
        assert sum(r.rec["id"] == f"{group}-a" for r in members) == 1, f"{group} has no single base line"


def group_one_label_list(s: Slice) -> None:
    # variants with different labels would contradict each other in grouped cross-validation
    for group, members in _groups(s).items():
        assert len({tuple(r.rec["labels"]) for r in members}) == 1, f"{group} labels differ"


def group_variants_distinct(s: Slice) -> None:
    # two identical variants are one text counted twice
    for group, members in _groups(s).items():
        texts = {(r.rec["subject"], r.rec["body"]) for r in members}
        assert len(texts) == len(members), f"{group}: identical variants"


@asked_by("texts_unique_in_slice")
def texts_unique_in_slice(s: Slice) -> None:
    # no two lines of the slice, variants included, may be the same text up to case and edge spaces
    seen: dict[tuple[str, str], str] = {}
    for row in rows(s):
        key = (row.rec["subject"].strip().lower(), row.rec["body"].strip().lower())
        assert key not in seen, f"{row.where} repeats {seen[key]}"
        seen[key] = row.where


@asked_by("bodies_not_elsewhere")
def bodies_not_elsewhere(s: Slice) -> None:
    # a body under two groups, or copied from another file, would leak between CV folds
    ours = {path.name for path in slice_files(s.patterns)}
    owner: dict[str, str] = {}
    for row in rows(s):
        key = _norm(row.rec["body"])
        assert owner.setdefault(key, row.rec["group"]) == row.rec["group"], f"{row.where} repeats {owner[key]}"
    for row in corpus_rows():
        if row.file not in ours:
            assert _norm(row.rec["body"]) not in owner, f"{row.where} repeats {owner.get(_norm(row.rec['body']))}"


@asked_by("easy_marketing_words")
def marketing_avoids_easy_words(s: Slice) -> None:
    # these letters teach formal objections to advertising; a "newsletter" or "unsubscribe"
    # in them would let the model keep relying on those words
    easy = re.compile(s.easy_marketing_words or "", re.I)
    for row in rows(s):
        if row.rec["labels"] == ["marketing_optout"]:
            assert not easy.search(row.rec["subject"] + " " + row.rec["body"]), row.where


@asked_by("not_copied_from_shared")
def not_copied_from_shared_corpora(s: Slice) -> None:
    # the shared corpora are the measurement set; a copied sentence would inflate the scores
    if not SHARED_CORPORA.is_dir():
        pytest.skip(f"shared corpora not found at {SHARED_CORPORA}")
    theirs = _shared_lines()
    for row in rows(s):
        for line in row.rec["body"].split("\n"):
            if len(line) >= 60 or len(_norm(line)) >= 60:
                assert _norm(line) not in theirs, f"{row.where} copies a shared-corpus line"


# ---------------------------------------------------------------- checks on sizes and spread

def min_lines(s: Slice) -> None:
    # the brief's size; a truncated file would leave the slice under-represented
    assert len(rows(s)) >= s.min_lines, len(rows(s))


@asked_by("min_groups")
def min_groups(s: Slice) -> None:
    assert len(_groups(s)) >= (s.min_groups or 0), len(_groups(s))


@asked_by("min_groups_per_label")
def min_groups_per_label(s: Slice) -> None:
    # a label with a handful of groups gets a threshold tuned on noise, or none in some CV fold
    per_label = _groups_per_label(s)
    short = {label: len(per_label[label]) for label, floor in (s.min_groups_per_label or {}).items()
             if len(per_label[label]) < floor}
    assert short == {}


@asked_by("min_rows_per_label")
def min_rows_per_label(s: Slice) -> None:
    # a kind of letter missing from a language is a blind spot in that language
    counts = Counter(label for row in rows(s) for label in row.rec["labels"])
    short = {label: counts[label] for label, floor in (s.min_rows_per_label or {}).items() if counts[label] < floor}
    assert short == {}


@asked_by("min_rows_per_label_list")
def min_rows_per_label_list(s: Slice) -> None:
    # each kind of letter the brief names, with exactly its labels
    counts = Counter(tuple(row.rec["labels"]) for row in rows(s))
    short = {kind: counts[kind] for kind, floor in (s.min_rows_per_label_list or {}).items() if counts[kind] < floor}
    assert short == {}


@asked_by("min_multi_label_groups")
def min_multi_label_groups(s: Slice) -> None:
    # the brief asks for texts that ask for several things at once
    multi = {row.rec["group"] for row in rows(s) if len(row.rec["labels"]) > 1}
    assert len(multi) >= (s.min_multi_label_groups or 0), len(multi)


@asked_by("without_diacritics_one_in")
def share_without_diacritics(s: Slice) -> None:
    # phone-typed Polish without diacritics must be well represented
    plain = str.maketrans("", "", POLISH_DIACRITICS)
    recs = [row.rec for row in rows(s)]
    without = [r for r in recs if (r["subject"] + r["body"]) == (r["subject"] + r["body"]).translate(plain)]
    assert len(without) >= len(recs) // s.without_diacritics_one_in, len(without)


@asked_by("loader_reads_slice")
def loader_reads_slice(s: Slice) -> None:
    # the training code must read these lines exactly as the checks read them
    loaded = _loaded_examples()
    ids = {e.id for e in loaded}
    missing = [row.where for row in rows(s) if row.rec["id"] not in ids]
    assert missing == []
    if s.exclusive_prefix:
        ours = [e for e in loaded if e.group.startswith(f"{s.group_prefix}-")]
        assert len(ours) == len(rows(s))


# Every slice gets these; the checks marked @asked_by(field) only where the slice sets that field.
ALWAYS: tuple[Callable[[Slice], None], ...] = (
    files_present, no_blank_lines, fields_exact_in_order, subject_is_text, body_is_text,
    no_ascii_escapes, lang_matches, group_named_by_prefix, id_is_group_plus_suffix,
    labels_known, labels_not_repeated, other_stands_alone,
    group_size_at_most, group_has_one_base, group_one_label_list, group_variants_distinct, min_lines,
)



def checks_for(s: Slice) -> list[Callable[[Slice], None]]:
    return list(ALWAYS) + [check for check, name in WHEN_ASKED if getattr(s, name)]


def check_literal(s: Slice, lit: Literal) -> None:
    """The line `lit` picks (by id, else the first line whose body matches) carries its labels."""
    def matches(row: Row) -> bool:
        body = row.rec["body"]
        return {
            "in": lambda: lit.text in body,
            "in_lower": lambda: lit.text in body.lower(),
            "starts": lambda: body.startswith(lit.text),
            "equals": lambda: body == lit.text,
        }[lit.match]()

    candidates = [r for r in rows(s) if not lit.base_only or r.rec["id"].endswith("-a")]
    if lit.rid is not None:
        row = next((r for r in candidates if r.rec["id"] == lit.rid), None)
        assert row is not None, f"{lit.rid} not in {s.name}"
        if lit.text is not None:
            assert matches(row), f"{lit.rid} no longer holds {lit.text!r}"
    else:
        row = next((r for r in candidates if matches(r)), None)
        assert row is not None, f"no line of {s.name} holds {lit.text!r}"
    assert tuple(row.rec["labels"]) == lit.labels, (row.where, row.rec["labels"])


# ---------------------------------------------------------------- the slices

_FORMAL_A_EASY = r"newsletter|unsubscribe|abmelden|afmelden|avregistrera|nyhetsbrev"
_FORMAL_B_EASY = r"newsletter|unsubscrib|désabonn|desuscrib|darse de baja|disiscriv|cancelar a subscri|dezabon"
_FORMAL_C_EASY = r"newsletter|unsubscribe"


def _formal_a(name: str, lang: str, prefix: str, lines: int, groups: int) -> Slice:
    kinds = ("access", "portability", "rectification", "erasure", "marketing_optout", "complaint")
    per_label = {label: 4 for label in kinds}
    if name != "en_formal2.jsonl":  # the English letters were never held to a count of "other"
        per_label["other"] = 4
    return Slice(
        name.removesuffix(".jsonl"), (name,), lang, prefix, id_suffix="[ab]", max_variants=2,
        min_lines=lines, min_groups=groups, min_rows_per_label=per_label, canonical_label_order=True,
        bodies_not_elsewhere=True, easy_marketing_words=_FORMAL_A_EASY, loader_reads_slice=True,
    )


def _formal_b(lang: str, prefix: str, lines: int) -> Slice:
    return Slice(
        f"{lang}_formal", (f"{lang}_formal.jsonl",), lang, prefix, id_suffix="[a-z]", max_variants=2,
        min_lines=lines, min_body_chars=41, min_rows_per_label_list={kind: 2 for kind in FORMAL_KINDS},
        easy_marketing_words=_FORMAL_B_EASY,
    )


def _formal_c(lang: str, prefix: str, lines: int) -> Slice:
    return Slice(
        f"{lang}_formal", (f"{lang}_formal.jsonl",), lang, prefix, min_lines=lines, no_placeholders=True,
        texts_unique_in_slice=True, min_rows_per_label_list={kind: 1 for kind in FORMAL_KINDS},
        easy_marketing_words=_FORMAL_C_EASY, not_copied_from_shared=True,
    )


def _by_language(lang: str, lines: int, groups: int, per_label: dict[str, int]) -> Slice:
    # every file of one language; each writer's files carry "<lang>-" or "<lang><letter>-"
    return Slice(
        f"{lang}_all", (f"{lang}_*.jsonl",), lang, rf"{lang}[a-z]?", id_suffix="[a-z]",
        min_lines=lines, min_groups=groups, min_groups_per_label=per_label,
    )


SLICES: tuple[Slice, ...] = (
    Slice(
        "en_everyday_enx", ("en_everyday[12].jsonl",), "en", "enx", min_lines=1200, min_groups=450,
        min_groups_per_label=floors(35), canonical_label_order=True, bodies_not_elsewhere=True,
        exclusive_prefix=True, loader_reads_slice=True,
        literals=(
            # someone else's data reached the writer: a leak, not a grievance
            Literal(("breach_report",), rid="enx-0002-a"),
            # angry about retention and announcing the authority: a complaint, nothing leaked
            Literal(("complaint",), rid="enx-0010-a"),
            # "where did you get my number" is a short access request
            Literal(("access",), rid="enx-0061-a"),
            # scoring and tracking without a word about marketing: objection
            Literal(("objection",), rid="enx-0129-a"),
            # "STOP. no more of your messages": a bare stop: a marketing opt-out
            Literal(("marketing_optout",), rid="enx-0111-a"),
        ),
    ),
    Slice(
        "en_everyday_eny", ("en_everyday3.jsonl", "en_everyday4.jsonl"), "en", "eny", min_lines=950,
        min_groups=330, min_groups_per_label=floors(28, other=45), min_multi_label_groups=30,
        canonical_label_order=True, bodies_not_elsewhere=True, exclusive_prefix=True, loader_reads_slice=True,
        literals=(
            # ex-employee asking for the personnel file: access, although HR words dominate
            Literal(("access",), rid="eny-0001-a"),
            # employee objecting to screenshot monitoring at work: objection, not complaint
            Literal(("objection",), rid="eny-0003-a"),
            # ex-employee asking to KEEP records for a claim: restriction, not erasure
            Literal(("restriction",), rid="eny-0026-a"),
            # a customer company asking for its own export at contract end: other, not portability
            Literal(("other",), rid="eny-0047-a"),
        ),
    ),
    _formal_a("de_formal.jsonl", "de", "def", 260, 130),
    _formal_a("nl_formal.jsonl", "nl", "nlf", 60, 30),
    _formal_a("sv_formal.jsonl", "sv", "svf", 40, 20),
    _formal_a("en_formal2.jsonl", "en", "enf", 100, 50),
    _formal_b("fr", "frf", 110),
    _formal_b("es", "esf", 110),
    _formal_b("it", "itf", 90),
    _formal_b("pt", "ptf", 80),
    _formal_b("ro", "rof", 40),
    _formal_c("cs", "csf", 110),
    _formal_c("hr", "hrf", 90),
    _formal_c("el", "elf", 80),
    _formal_c("uk", "ukf", 50),
    _formal_c("pl", "plf", 150),
    # each right needs 50 distinct English texts, "other" 70, or its thresholds are tuned on a handful
    _by_language("en", 750, 330, floors(50, other=70)),
    _by_language("de", 50, 30, floors(1)),
    _by_language("fr", 50, 30, floors(1)),
    _by_language("es", 50, 30, floors(1)),
    _by_language("cs", 50, 30, floors(1)),
    _by_language("uk", 50, 30, floors(1)),
    Slice(
        "pl_all", ("pl_*.jsonl",), "pl", "pl[a-z]?", id_suffix="[a-z]", min_lines=1100, min_groups=450,
        min_groups_per_label=floors(70, other=90), without_diacritics_one_in=3,
        not_copied_from_shared=True,
        literals=(
            # asks for a copy, explicitly not for deletion -> access only
            Literal(("access",), rid="pl-0009-a", text="nie chcę na razie usuwać konta"),
            # "wypiszcie mnie" above a newsletter footer is an opt-out ...
            Literal(("marketing_optout",), rid="pl-0081-a", text="wypiszcie mnie", match="starts"),
            # ... while a product question above the same kind of footer is not
            Literal(("other",), rid="pl-0138-a", text="wypisz"),
            # a DPA to sign, a GDPR-tool sales pitch and a CV with a consent clause are hard negatives
            Literal(("other",), rid="pl-0124-a"),
            Literal(("other",), rid="pl-0125-a"),
            Literal(("other",), rid="pl-0126-a"),
        ),
    ),
    Slice(
        "pl_everyday_pla", ("pl_everyday_a*.jsonl",), "pl", "pla", min_lines=1200, min_groups=450,
        min_groups_per_label=floors(1, other=80, breach_report=40, complaint=40, marketing_optout=60),
        without_diacritics_one_in=3,
        literals=(
            # a one-line "what do you hold about me" is an access request
            Literal(("access",), text="co o mnie macie?", match="equals", base_only=True),
            # someone else's order confirmations arriving in my mailbox is a breach report, not a complaint
            Literal(("breach_report",), text="Witam, od tygodnia przychodzą", match="starts", base_only=True),
            # anger about an ignored deletion, with no leak reported, is a complaint
            Literal(("complaint",), text="Jestem wściekły. Rok temu", match="starts", base_only=True),
            # a leak reported again together with a complaint about silence carries both labels
            Literal(("complaint", "breach_report"), text="Szanowni Państwo,\n3 tygodnie temu", match="starts",
                    base_only=True),
        ),
    ),
    Slice(
        "pl_everyday_plb", ("pl_everyday_b*.jsonl",), "pl", "plb", min_lines=1200, min_groups=450,
        min_groups_per_label=floors(1, rectification=50, restriction=50, portability=50, objection=50),
        not_copied_from_shared=True,
        literals=(
            # a newsletter opt-out is fine with this sender; only analytics is refused -> objection
            Literal(("objection",), text="wylaczcie mnie z analityki"),
            # keeps the account and deletes nothing, wants only a CSV export -> portability
            Literal(("portability",), text="nie interesuje mnie zestawienie", match="in_lower"),
            # an account kept but frozen for a year -> restriction, not erasure
            Literal(("restriction",), text="Wrócę, to odmrozimy"),
        ),
    ),
    Slice(
        "pl_everyday_plc", ("pl_everyday_c.jsonl",), "pl", "plc", min_lines=500, min_groups=170,
        min_groups_per_label=floors(15, other=25), not_copied_from_shared=True,
        literals=(
            # keep the recording, do not send it -> restriction, not access
            Literal(("restriction",), text="Nie chcę go teraz otrzymywać", base_only=True),
            # camera over an employee's desk, legitimate interest contested -> objection, not complaint
            Literal(("objection",), text="kamera obejmuje ekran mojego komputera", base_only=True),
            # a student's thesis interview uses RODO words but asks nothing for the sender -> other
            Literal(("other",), text="art. 22² Kodeksu pracy", base_only=True),
            # a colleague's payslips in one's inbox is someone else's data -> breach_report
            Literal(("breach_report",), text="paski_marzec.xlsx", base_only=True),
        ),
    ),
)
SLICE = {s.name: s for s in SLICES}
