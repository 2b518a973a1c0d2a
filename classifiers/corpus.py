"""Load and validate the project's labelled corpus (classifiers/data/*.jsonl).

One JSON object per line: id, group, lang, labels, subject, body. `group` ties the variants of one
text together so that grouped cross-validation never puts a variant in training and its sibling in
test. A bad line is refused with the file and line named, because a silently skipped or
mislabelled example would shift the model without anyone noticing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from inbox_bot.values import LABELS

DATA_DIR = Path(__file__).resolve().parent / "data"

_KNOWN = frozenset(LABELS)


class CorpusError(ValueError):
    """A corpus line is unusable; the message names the file and the line."""


@dataclass(frozen=True)
class Example:
    """One labelled message. `labels` are in LABELS order; ("other",) stands alone."""

    id: str
    group: str
    lang: str
    labels: tuple[str, ...]
    subject: str
    body: str


def normalise_labels(labels: Iterable[str], where: str = "") -> tuple[str, ...]:
    """Check labels against LABELS and return them deduplicated in LABELS order."""
    given = [str(label).strip() for label in labels]
    if not given:
        raise CorpusError(f"{where}: no labels")
    unknown = sorted(set(given) - _KNOWN)
    if unknown:
        raise CorpusError(f"{where}: unknown label(s) {unknown}; known: {list(LABELS)}")
    if "other" in given and len(set(given)) > 1:
        raise CorpusError(f"{where}: 'other' is never combined with another label: {given}")
    return tuple(label for label in LABELS if label in given)


def example_from_dict(obj: object, where: str = "") -> Example:
    """Build a validated Example from one decoded JSON object."""
    if not isinstance(obj, dict):
        raise CorpusError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for key in ("id", "labels"):
        if key not in obj:
            raise CorpusError(f"{where}: missing key {key!r}")
    labels = obj["labels"]
    if not isinstance(labels, (list, tuple)):
        raise CorpusError(f"{where}: 'labels' must be a list of strings")
    subject = obj.get("subject") or ""
    body = obj.get("body") or ""
    if not isinstance(subject, str) or not isinstance(body, str):
        raise CorpusError(f"{where}: 'subject' and 'body' must be strings")
    if not (subject.strip() or body.strip()):
        raise CorpusError(f"{where}: empty text (subject and body both blank)")
    ident = str(obj["id"]).strip()
    if not ident:
        raise CorpusError(f"{where}: empty id")
    return Example(
        id=ident,
        group=str(obj.get("group") or ident),
        lang=str(obj.get("lang") or "und"),
        labels=normalise_labels(labels, where),
        subject=subject,
        body=body,
    )


def read_jsonl(path: Path) -> list[Example]:
    """Every example of one .jsonl file; blank lines are allowed, anything else must parse."""
    examples = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: not valid JSON ({exc.msg})") from None
            examples.append(example_from_dict(obj, where))
    return examples


def load_corpus(extra: Iterable[Example] = (), data_dir: str | Path | None = None) -> list[Example]:
    """Every example of data_dir/*.jsonl (sorted by file name), then `extra` (e.g. DPO relabels).

    Duplicate ids are refused: two writers using one id would make the corpus hash and grouped
    folds ambiguous.
    """
    folder = Path(data_dir) if data_dir is not None else DATA_DIR
    examples: list[Example] = []
    for path in sorted(folder.glob("*.jsonl")):
        examples.extend(read_jsonl(path))
    for item in extra:
        examples.append(example_from_dict(item.__dict__ if isinstance(item, Example) else item, "extra"))
    seen: set[str] = set()
    for example in examples:
        if example.id in seen:
            raise CorpusError(f"duplicate example id {example.id!r}")
        seen.add(example.id)
    if not examples:
        raise CorpusError(f"no examples found in {folder}")
    return examples


def corpus_hash(examples: Iterable[Example]) -> str:
    """sha256 over a canonical serialisation, independent of file order and of JSON spacing."""
    digest = hashlib.sha256()
    rows = sorted(
        json.dumps(
            [e.id, e.group, e.lang, list(e.labels), e.subject, e.body],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for e in examples
    )
    for row in rows:
        digest.update(row.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
