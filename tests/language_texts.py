"""Texts the language fast-path tests hold against the detector: the shared corpora's request
letters in 12 languages and a slice of its real mail, read as the pipeline reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifiers import language
from inbox_bot.parsing import parse_message

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


def shared_corpus_texts() -> list[str]:
    """Every request letter and every third .eml's subject and text; skips without ../shared."""
    if not CORPORA.is_dir():
        pytest.skip(f"shared corpora not found at {CORPORA} (a plain checkout has no ../shared)")
    texts = [p.read_text(encoding="utf-8") for p in sorted((CORPORA / "requests").rglob("*.txt"))]
    for path in sorted((CORPORA / "mime").rglob("*.eml"))[::3]:
        mail = parse_message(path.read_bytes())
        texts.append(f"{mail.subject}\n{mail.text}")
    return texts


def head(text: str) -> str:
    """The slice the long detector and the fast paths read."""
    return " ".join(text.split())[: language.LONG_SLICE]


def detector_says(text: str) -> str:
    """The long detector's own answer, without the fast paths in front of it."""
    return language._code(language._long_detector().detect_language_of(head(text)))


def check_fast_path(texts: list[str], fast_path, code: str) -> tuple[int, list[str]]:
    """How often `fast_path` fires on `texts`, and the slices where the detector says other than `code`."""
    fired, disagree = 0, []
    for text in texts:
        slice_ = head(text)
        if len(slice_) >= language.SHORT_TEXT and fast_path(slice_):
            fired += 1
            if detector_says(text) != code:
                disagree.append(slice_[:80])
    return fired, disagree
