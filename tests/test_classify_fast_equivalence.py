"""The fast feature transform and its shortcuts give exactly what the plain, per-text path gives.

FeatureSpace.transform counts words with a numpy index of the vocabulary, weights them without
scipy matrices, folds and tokenises each text once and skips the citation pattern where it cannot
match; transform_plain does it the first-written way (scikit-learn's analyzer, scipy's tfidf).
A stored model must answer the same either way, so these tests compare the two bit for bit.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from classifiers import features as F
from classifiers.features import model_text

SHARED_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"  # beside the repository

# Inputs chosen for the places where a shortcut could part from the plain path.
TRICKY = [
    "",  # no token at all: an empty row in every block
    "   \n\t ",
    "a",  # one letter: a unigram, no bigram
    "Proszę usunąć moje dane. Usunięcie konta, usuńcie wszystko! Łódź, żółć.",
    "prosze usunac moje dane osobowe",  # the folded form typed directly
    "cafe\u0301s and re\u0301sume\u0301",  # combining marks split a token before folding, not after
    "ﬁle ½ ² ³ ™ Ⅻ ㎏",  # NFKD turns one letter into several, some not word characters
    "Straße, Æsir, œuvre, Øresund, þorn, ðóttir, ħelp, đak, ı dotless, İstanbul",
    "\u212a Kelvin, \u017f long s, \u00b5 micro",  # case variants outside ASCII
    "art. 15 RODO i art. 17 ust. 1 RODO; Art. 21(2) GDPR; Article 20 and 16",
    "Gemäß Art. 15 Abs. 3 DSGVO und Art 17 DSGVO",
    "ΑΡΘΡΟ 21 παρ. 2 και άρθρο 15 του ΓΚΠΔ",
    "відповідно до статті 20 та ст. 15 ЗУ",
    "Podle článku 16 a čl. 17 GDPR, članka 18",
    "part 2 of the start-up's chart 15 departments",  # "art" inside words, numbers after them
    "PART 15 and ARTICLE 17",  # upper-case ASCII citation words
    "the article explains nothing numeric",  # a citation word without a number
    "art ١٥ and art ۱۶",  # Arabic-Indic digits: \d in the pattern reads them
    "foo_bar baz__qux _ __ 123_456",  # underscore is a word character
    "delete delete delete my my data data data",  # counts above one, repeated bigrams
    "😀 emoji 👍🏽 zero\u200dwidth\u200bspace non\u00a0breaking",
    "数据 删除 請求 データ削除",
    "x" * 3998 + " abcdefgh tail words",  # a word straddles the character block's limit
    ("proszę o usunięcie " * 300).strip(),  # longer than the limit, not ASCII
    "Dzień dobry,\n\n> quoted line art. 15\n\nPozdrawiam\nJan",
]


@pytest.fixture(scope="module")
def space(classifier_ready):
    return classifier_ready.params.features


@pytest.fixture(scope="module")
def corpus_slice() -> list[tuple[str, str]]:
    """(subject, body) of a slice of the request letters and of the .eml files."""
    from inbox_bot.parsing import parse_message

    shared_corpora = SHARED_CORPORA
    if not shared_corpora.is_dir():
        pytest.skip(f"shared corpora not found at {shared_corpora}")

    letters = sorted((shared_corpora / "requests").rglob("*.txt"))[::6]
    items = [("", path.read_text(encoding="utf-8", errors="replace")) for path in letters]
    for path in sorted((shared_corpora / "mime").rglob("*.eml"))[::12]:
        try:
            mail = parse_message(path.read_bytes())
        except Exception:  # noqa: BLE001 - unreadable mail is the parser's tests' business
            continue
        items.append((mail.subject, mail.full_text))
    assert len(items) > 100
    return items


def assert_same_matrix(fast, plain) -> None:
    assert fast.shape == plain.shape
    assert np.array_equal(fast.indptr, plain.indptr)
    assert np.array_equal(fast.indices, plain.indices)
    assert fast.data.dtype == plain.data.dtype == np.float32
    # Bit for bit: a last-bit difference could move a rounded score or a threshold decision.
    assert np.array_equal(fast.data.view(np.uint32), plain.data.view(np.uint32))


def test_tricky_texts_give_the_plain_feature_rows(space):
    # Guards the fast transform (token index, tfidf arrays, folding and citation shortcuts)
    # against drifting from the plain path on inputs where each shortcut could go wrong.
    texts = [model_text("Subject", t, prepared=True) for t in TRICKY] + [model_text(t[:40], "", prepared=True) for t in TRICKY]
    assert_same_matrix(space.transform(texts), space.transform_plain(texts))
    for text in texts:  # alone, too: a batch of one has no neighbour to share a bigram with
        assert_same_matrix(space.transform([text]), space.transform_plain([text]))


def test_corpus_slice_gives_the_plain_feature_rows(space, corpus_slice):
    # Guards the fast transform on real letters and mail in many languages, in batches of the
    # daemon's size and in one batch.
    texts = [model_text(subject, body) for subject, body in corpus_slice]
    for begin in range(0, len(texts), 100):
        chunk = texts[begin : begin + 100]
        assert_same_matrix(space.transform(chunk), space.transform_plain(chunk))
    assert space.transform(texts).nnz > 10_000  # the slice really has features


def test_batched_predictions_equal_plain_ones_text_by_text(classifier_ready, corpus_slice):
    # Guards what the daemon stores: labels, scores, confidence, triage and language of the
    # fast batched path equal those of the plain path run on each text alone.
    items = corpus_slice[:40] + [("Subject", t) for t in TRICKY]
    fast = classifier_ready.predict_many(items)
    plain = [classifier_ready.predict_many([item], plain=True)[0] for item in items]
    assert fast == plain
    assert {p.labels for p in fast} != {("other",)}  # the slice holds requests, not only "other"


def test_shortcuts_equal_their_plain_forms(corpus_slice):
    # Guards each shortcut on its own, so a failure names the one that drifted: \w+ against
    # scikit-learn's \b\w+\b, the folding without str.translate, the citation pre-checks.
    token_pattern = re.compile(F.WORD_TOKEN)
    texts = TRICKY + [body for _, body in corpus_slice]
    for text in texts + [t.lower() for t in texts]:
        assert F._TOKEN.findall(text) == token_pattern.findall(text)
        assert F.fold_diacritics(text) == F._fold_plain(text)
        assert F.citation_tokens(text) == F._cited(text)
    assert F.citation_tokens("Art. 15 RODO") == "art15"
    assert F.fold_diacritics("Proszę usunąć, Łódź") == "Prosze usunac, Lodz"


def test_model_stored_before_loads_and_answers_the_same(classifier_ready, tmp_path):
    # Guards compatibility with models on disk: a stored model, loaded again (its feature space
    # rebuilt from the arrays), gives exactly the probabilities of the plain path.
    from classifiers.model import Classifier
    from classifiers.store import load_model, save_model

    save_model(classifier_ready.params, tmp_path)
    loaded = Classifier(load_model(tmp_path))
    texts = [model_text("", t, prepared=True) for t in TRICKY]
    assert np.array_equal(loaded.probabilities(texts), classifier_ready.probabilities(texts, plain=True))
