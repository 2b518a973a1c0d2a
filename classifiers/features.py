"""Turn a message (subject, sender's text) into the TF-IDF feature matrix the model reads.

Four blocks, each TF-IDF weighted (sublinear tf, smoothed idf) and L2-normalised on its own, then
stacked side by side:

- word unigrams and bigrams of the lower-cased text;
- word unigrams and bigrams of a diacritics-folded copy, so that "prosze usunac" typed on a phone
  meets "proszę usunąć" from a desktop;
- character 2-5-grams inside word boundaries (like scikit-learn's `char_wb`) of the folded copy,
  which carry inflection (usunąć / usunięcie / usuńcie) and typos;
- legal citations mapped to language-independent tokens: "art. 15 RODO", "Art. 17 DSGVO",
  "článku 16", "άρθρο 21 παρ. 2", "статті 20" all become `art15`, `art17`, `art16`, `art21`
  `art21_2`, `art20`. A formal letter in Greek or Croatian shares almost no word with the
  Polish and English training letters, but it cites the same article as they do: without this
  block such letters fell back on their boilerplate and were called access.

The character block is computed with numpy over hashed n-grams instead of scikit-learn's
analyzer: the pure-Python analyzer took ~13 s for 10,000 letters, far over the budget of 10,000
messages in 10 s. Buckets (2**20) that are rare in training are dropped, so the stored model holds
only the buckets it uses. The hash is fixed arithmetic (not Python's salted hash()), so a stored
model reads the same buckets in every process.

Every fitted part is plain arrays and strings (vocabularies, idf, bucket lists), which
classifiers.store writes without pickle.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

CHAR_BITS = 20
CHAR_RANGE = (2, 5)
WORD_RANGE = (1, 2)
WORD_TOKEN = r"(?u)\b\w+\b"  # single letters kept: Polish "z", "o", "w" carry meaning in bigrams
CHAR_TEXT_LIMIT = 4000  # characters of one text fed to the character block; bounds worst-case cost
STEM = 0  # >0: the folded word block reads each word cut to its first STEM letters


def stem_words(text: str) -> str:
    """Cut every word to STEM letters: a crude, language-independent stemmer."""
    if not STEM:
        return text
    return re.sub(r"\w{%d,}" % (STEM + 1), lambda m: m.group()[:STEM], text)


CITE_WEIGHT = 1.0  # scale of the citation block against the other (unit-norm) blocks
CHUNK = 2000  # documents per vectorised batch: bounds memory for the n-gram arrays

# Letters NFKD does not decompose; without this "ł" would survive folding and "usunal"/"usunął"
# would stay apart.
_FOLD_EXTRA = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae", "Æ": "AE",
     "œ": "oe", "Œ": "OE", "ı": "i", "ħ": "h", "þ": "th", "ð": "d"}
)
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_WORD = re.compile(r"\w+")
# The word blocks' tokens as CountVectorizer finds them with WORD_TOKEN, \b\w+\b: a greedy \w+
# run always ends and (scanning left to right) starts at a word boundary, so plain \w+ finds
# the same words, a third faster.
_TOKEN = _WORD


# The same table as pairs: str.translate looks every character of the text up in a dict, which
# took three quarters of the folding time; a replace per letter present is a C scan each. Equal
# to translate because no replacement contains a letter of the table.
_FOLD_PAIRS = tuple((chr(code), replacement) for code, replacement in _FOLD_EXTRA.items())


def _fold_plain(text: str) -> str:
    """fold_diacritics() as first written, the reference transform_plain() uses."""
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text.translate(_FOLD_EXTRA)))


def fold_diacritics(text: str) -> str:
    """"Proszę usunąć" -> "Prosze usunac"; Cyrillic and Greek lose their accents the same way."""
    if text.isascii():
        return text  # NFKD leaves ASCII alone, and no letter of the table is ASCII
    for letter, replacement in _FOLD_PAIRS:
        if letter in text:
            text = text.replace(letter, replacement)
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


# "art. 15", "Art. 17 Abs. 1 DSGVO", "Article 21(2)", "artículo 20", "článku 16", "članka 17",
# "čl. 15", "άρθρο 21", "статті 15"; lists "Art. 15 und 20", "articles 16 and 18". The word
# must end right before the number, so "article" in prose without a number yields nothing.
_CITATION = re.compile(
    r"(?<!\w)(?:art\w*|čl|člán\w*|član\w*|άρθρ\w*|αρθρ\w*|ст|стат\w*)\.?[ \t\u00a0]?"
    r"(\d{1,2})(?!\d)"
    r"(?:[ \t\u00a0]?\((\d)\)|[ \t\u00a0]*(?:ust|abs|para\w*|par|παρ|odst|st|stavak\w*|lid|al|alin\w*|ч|п)\.?[ \t\u00a0]?(\d)(?!\d))?"
    r"((?:[ \t\u00a0]*(?:,|and|und|i|et|y|e|en|och|a|și|si|και|та|і|й|&|oraz|or|oder|ou|o)[ \t\u00a0]*\d{1,2}(?!\d))*)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d{1,2}")
_DIGIT = re.compile(r"\d")  # the same (Unicode) digits _CITATION's number matches


def citation_tokens(text: str) -> str:
    """The legal articles `text` cites, as tokens: "art15 art21 art21_2" (sorted, no repeats)."""
    # The pattern is slow to try at every position of a long text; two cheap scans rule most
    # messages out. Every citation holds a number. In an ASCII text, the only word it can start
    # with is "art" (any case): the others are Czech, Greek and Cyrillic, whose case variants
    # are not ASCII either.
    if not _DIGIT.search(text) or (text.isascii() and "art" not in text.lower()):
        return ""
    return _cited(text)


def _cited(text: str) -> str:
    """citation_tokens() without its shortcuts: the pattern tried over the whole text."""
    found: set[str] = set()
    for match in _CITATION.finditer(text):
        number = int(match.group(1))
        found.add(f"art{number}")
        paragraph = match.group(2) or match.group(3)
        if paragraph:
            found.add(f"art{number}_{paragraph}")
        for more in _NUMBER.findall(match.group(4) or ""):
            found.add(f"art{int(more)}")
    return " ".join(sorted(found))


def _sender_text(body: str) -> str:
    # Imported lazily: textprep pulls in the reply parser, which the corpus tools do not need.
    from classifiers.textprep import sender_text

    return sender_text(body)


def model_text(subject: str, body: str, prepared: bool = False) -> str:
    """The text the model reads: subject and the sender's own words, lower-cased.

    `prepared=True` means the body is already the sender's text (e.g. InboundMail.text).
    """
    own = body if prepared else _sender_text(body)
    return f"{subject or ''}\n{own or ''}".lower()


# --- the character block -------------------------------------------------------------------


def _mix(h: np.ndarray) -> np.ndarray:
    # splitmix64 finaliser: spreads the polynomial hash over all bits before masking.
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def char_ngram_buckets(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(document index, bucket) of every within-word character n-gram of the texts.

    Each text is reduced to its word tokens joined by single spaces and padded with a space at
    each end; an n-gram may start or end on a space but never contain one inside, which is what
    scikit-learn's char_wb produces.
    """
    return _char_buckets_of_parts([_char_part(_WORD.findall(t[:CHAR_TEXT_LIMIT])) for t in texts])


def _char_part(words: Sequence[str]) -> str:
    return " " + " ".join(words) + " "


def _char_buckets_of_parts(parts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """char_ngram_buckets() for texts already reduced to their padded, space-joined words."""
    joined = "\0".join(parts)
    cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    total = cp.shape[0]
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)) + 1
    doc_of = np.repeat(np.arange(len(parts), dtype=np.int64), lengths)[:total]
    separator = cp == 0
    cum = np.concatenate(([0], np.cumsum((cp == 32) | separator, dtype=np.int64)))
    inner = ~separator
    docs_out, buckets_out = [], []
    mask_bits = np.uint64((1 << CHAR_BITS) - 1)
    prime = np.uint64(1_000_003)
    # Rolling polynomial hash: the hash of an n-gram extends that of its (n-1)-prefix.
    h = cp.copy()
    for n in range(2, CHAR_RANGE[1] + 1):
        count = total - n + 1
        if count <= 0:
            break
        h = h[:count] * prime + cp[n - 1 : n - 1 + count]
        if n < CHAR_RANGE[0]:
            continue
        # No space or separator strictly inside; no separator at either end.
        ok = cum[n - 1 : n - 1 + count] == cum[1 : 1 + count]
        ok &= inner[:count]
        ok &= inner[n - 1 : n - 1 + count]
        bucket = (_mix(h[ok] + np.uint64(n * 0x9E3779B1)) & mask_bits).astype(np.int64)
        docs_out.append(doc_of[:count][ok])
        buckets_out.append(bucket)
    if not docs_out:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(docs_out), np.concatenate(buckets_out)


def _counts(docs: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> sp.csr_matrix:
    # One sort of (row, column) keys and a run-length count builds the CSR matrix directly;
    # scipy's COO route sorts twice and was half of the transform time.
    keys = np.sort(docs * n_cols + cols)
    if keys.shape[0] == 0:
        return sp.csr_matrix((n_rows, n_cols), dtype=np.float32)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    counts = np.diff(np.append(starts, keys.shape[0])).astype(np.float32)
    unique = keys[starts]
    rows = unique // n_cols
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n_rows))))
    return sp.csr_matrix((counts, unique % n_cols, indptr), shape=(n_rows, n_cols))


def _count_rows(docs: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """_counts() as (float32 counts, column indices, indptr) of canonical CSR, no scipy matrix built.

    Keys are (row << shift) | column: the same order as row * n_cols + column, split again with
    a shift and a mask instead of an integer division; a batch's keys fit in 32 bits, which sort
    twice as fast.
    """
    shift = max(int(n_cols - 1).bit_length(), 1)
    key_type = np.int32 if (n_rows << shift) < 2**31 else np.int64
    keys = np.sort((docs.astype(key_type) << shift) | cols.astype(key_type))
    if keys.shape[0] == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros(n_rows + 1, dtype=np.int64)
    new = np.empty(keys.shape[0], dtype=bool)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    counts = np.diff(starts, append=keys.shape[0]).astype(np.float32)
    unique = keys[starts]
    # Row r's entries start at the first key >= r << shift.
    indptr = np.searchsorted(unique, np.arange(n_rows + 1, dtype=key_type) << shift).astype(np.int64)
    return counts, unique & key_type((1 << shift) - 1), indptr


# --- TF-IDF weighting shared by the blocks ------------------------------------------------------


def smooth_idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    return (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)


def tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear tf times idf, each row L2-normalised (an empty row stays empty)."""
    matrix = counts.astype(np.float32, copy=True)
    matrix.data = 1.0 + np.log(matrix.data)
    matrix = matrix @ sp.diags(idf)
    matrix = sp.csr_matrix(matrix)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix, dtype=np.float32)


def _tfidf_rows(counts: tuple[np.ndarray, np.ndarray, np.ndarray], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tfidf() for counts given as (data, indices, indptr) of canonical CSR, in the same form.

    The same float operations in the same order as tfidf() (log, times idf, squares summed per
    row with np.add.reduceat as scipy's row sum does, reciprocal of the square root), so the
    values are equal bit for bit, without tfidf's six scipy matrices per call, which cost more
    than the arithmetic on a batch of a hundred messages.
    """
    data, indices, indptr = counts
    data = 1.0 + np.log(data.astype(np.float32, copy=False))
    data = data * idf[indices]
    n_rows = indptr.shape[0] - 1
    lengths = np.diff(indptr)
    filled = np.flatnonzero(lengths)
    norms = np.zeros(n_rows, dtype=data.dtype)
    if filled.shape[0]:
        norms[filled] = np.add.reduceat(data * data, indptr[filled])
    norms = np.sqrt(norms)
    norms[norms == 0] = 1.0
    scale = 1.0 / norms
    data = (np.repeat(scale, lengths) * data).astype(np.float32, copy=False)
    return data, indices, indptr


def _hstack_rows(blocks: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], widths: Sequence[int]) -> sp.csr_matrix:
    """sp.hstack of CSR blocks given as (data, indices, indptr): each row is its blocks' rows in turn."""
    n_rows = blocks[0][2].shape[0] - 1
    lengths = [np.diff(indptr) for _, _, indptr in blocks]
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.sum(lengths, axis=0), out=indptr[1:])
    nnz = int(indptr[-1])
    data = np.empty(nnz, dtype=np.float32)
    indices = np.empty(nnz, dtype=np.int64)
    # Where each block's row segment starts in the stacked row: after the earlier blocks' segments.
    row_start = indptr[:-1].copy()
    offset = 0
    for (values, columns, own_indptr), length, width in zip(blocks, lengths, widths):
        # Entry e of row r goes to row_start[r] + (e - own_indptr[r]).
        shift = np.repeat(row_start - own_indptr[:-1], length)
        at = np.arange(values.shape[0], dtype=np.int64) + shift
        data[at] = values
        indices[at] = columns + offset
        row_start += length
        offset += width
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, offset))


class _NgramIndex:
    """A fixed vocabulary of word 1- and 2-grams, looked up for a whole batch with numpy.

    Counts exactly what CountVectorizer(token_pattern=WORD_TOKEN, ngram_range, vocabulary)
    counts, given each text's tokens: the tokens are numbered once (one dict lookup each), and a
    bigram is found by its pair of token numbers in a sorted array instead of by building the
    string "a b" for every adjacent pair; scikit-learn's pure-Python analyzer was half of the
    classification time.
    """

    def __init__(self, vocab: Sequence[str], ngram_range: tuple[int, int]):
        low, high = ngram_range
        if not 1 <= low <= high <= 2:
            raise ValueError(f"n-grams {ngram_range}: only unigrams and bigrams are indexed")
        self.n_cols = len(vocab)
        ids: dict[str, int] = {}
        unigrams: list[tuple[int, int]] = []
        bigrams: list[tuple[int, int, int]] = []
        for col, term in enumerate(vocab):
            words = term.split(" ")
            # A term of another length can never be produced by the analyzer: it counts nothing.
            if len(words) == 1 and low == 1:
                unigrams.append((ids.setdefault(words[0], len(ids)), col))
            elif len(words) == 2 and high == 2:
                first = ids.setdefault(words[0], len(ids))
                bigrams.append((first, ids.setdefault(words[1], len(ids)), col))
        self.ids = ids
        self.n_ids = len(ids)
        self.unigram_col = np.full(self.n_ids + 1, -1, dtype=np.int64)  # last entry: unknown token (-1)
        for token, col in unigrams:
            self.unigram_col[token] = col
        pairs = np.array(bigrams, dtype=np.int64).reshape(-1, 3)
        keys = pairs[:, 0] * self.n_ids + pairs[:, 1]
        order = np.argsort(keys)
        self.bigram_keys = keys[order]
        self.bigram_cols = pairs[order, 2]

    def counts(self, tokens: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Term counts, one row per token list, as _count_rows() gives them."""
        n_rows = len(tokens)
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=n_rows)
        total = int(lengths.sum())
        # map() with two iterables calls ids.get(token, -1) without a Python frame per token.
        ids = np.fromiter(map(self.ids.get, chain.from_iterable(tokens), repeat(-1, total)), dtype=np.int64, count=total)
        doc_of = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
        cols = self.unigram_col[ids]
        hit = cols >= 0
        docs_out, cols_out = [doc_of[hit]], [cols[hit]]
        if self.bigram_keys.shape[0] and total > 1:
            first, second = ids[:-1], ids[1:]
            ok = np.flatnonzero((first >= 0) & (second >= 0) & (doc_of[:-1] == doc_of[1:]))
            keys = first[ok] * self.n_ids + second[ok]
            # Sorted needles: searchsorted walks the vocabulary once instead of jumping about it.
            order = np.argsort(keys)
            keys = keys[order]
            at = np.minimum(np.searchsorted(self.bigram_keys, keys), self.bigram_keys.shape[0] - 1)
            found = self.bigram_keys[at] == keys
            docs_out.append(doc_of[ok[order[found]]])
            cols_out.append(self.bigram_cols[at[found]])
        return _count_rows(np.concatenate(docs_out), np.concatenate(cols_out), n_rows, self.n_cols)


@dataclass
class FeatureSpace:
    """A fitted feature space: word vocabularies, kept character buckets and their idf."""

    word_vocab: list[str]
    word_idf: np.ndarray
    fold_vocab: list[str]
    fold_idf: np.ndarray
    char_buckets: np.ndarray  # sorted bucket numbers kept; column i of the block is bucket [i]
    char_idf: np.ndarray
    cite_vocab: list[str]
    cite_idf: np.ndarray

    def __post_init__(self) -> None:
        self._char_column = np.full(1 << CHAR_BITS, -1, dtype=np.int32)  # half the cache misses of int64
        self._char_column[self.char_buckets] = np.arange(self.char_buckets.shape[0])
        self._indexes: tuple[_NgramIndex, _NgramIndex, _NgramIndex] | None = None
        self._counters: tuple | None = None

    @property
    def n_features(self) -> int:
        return len(self.word_vocab) + len(self.fold_vocab) + int(self.char_buckets.shape[0]) + len(self.cite_vocab)

    def _widths(self) -> tuple[int, int, int, int]:
        return len(self.word_vocab), len(self.fold_vocab), int(self.char_buckets.shape[0]), len(self.cite_vocab)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Feature rows for texts already passed through model_text().

        Equal, bit for bit, to transform_plain(): each text is tokenised once per form (an ASCII
        text is its own folded form, and its tokens serve all three folded blocks), the word
        blocks are counted with _NgramIndex and weighted by _tfidf_rows.
        """
        if self._indexes is None:
            self._indexes = (
                _NgramIndex(self.word_vocab, WORD_RANGE),
                _NgramIndex(self.fold_vocab, WORD_RANGE),
                _NgramIndex(self.cite_vocab, (1, 1)),
            )
        word_index, fold_index, cite_index = self._indexes
        blocks = []
        for begin in range(0, len(texts), CHUNK):
            chunk = list(texts[begin : begin + CHUNK])
            word_tokens = [_TOKEN.findall(t) for t in chunk]
            fold_tokens, char_parts = [], []
            for text, words in zip(chunk, word_tokens):
                folded = fold_diacritics(text)
                if folded != text:
                    text = folded
                    words = _TOKEN.findall(text)
                fold_tokens.append(words if not STEM else _TOKEN.findall(stem_words(text)))
                # \w+ and \b\w+\b find the same words (a greedy \w+ run is bounded by
                # non-word characters), so the token list serves the character block whole.
                char_parts.append(_char_part(words if len(text) <= CHAR_TEXT_LIMIT else _WORD.findall(text[:CHAR_TEXT_LIMIT])))
            word = _tfidf_rows(word_index.counts(word_tokens), self.word_idf)
            fold = _tfidf_rows(fold_index.counts(fold_tokens), self.fold_idf)
            docs, buckets = _char_buckets_of_parts(char_parts)
            cols = self._char_column[buckets]
            keep = cols >= 0
            char = _tfidf_rows(_count_rows(docs[keep], cols[keep], len(chunk), self.char_buckets.shape[0]), self.char_idf)
            cite_tokens = [_TOKEN.findall(citation_tokens(t)) for t in chunk]
            data, indices, indptr = _tfidf_rows(cite_index.counts(cite_tokens), self.cite_idf)
            cite = (data * CITE_WEIGHT, indices, indptr)
            blocks.append(_hstack_rows([word, fold, char, cite], self._widths()))
        if not blocks:
            return sp.csr_matrix((0, self.n_features), dtype=np.float32)
        return blocks[0] if len(blocks) == 1 else sp.vstack(blocks, format="csr")

    def transform_plain(self, texts: Sequence[str]) -> sp.csr_matrix:
        """transform() the straightforward way: scikit-learn's analyzer and scipy's tfidf().

        The reference the fast transform() is checked against (tests/test_classify_fast_equivalence.py).
        """
        if self._counters is None:
            self._counters = (
                _fixed_counter(self.word_vocab),
                _fixed_counter(self.fold_vocab),
                _fixed_counter(self.cite_vocab, (1, 1)) if self.cite_vocab else None,
            )
        word_counter, fold_counter, cite_counter = self._counters
        blocks = []
        for begin in range(0, len(texts), CHUNK):
            chunk = list(texts[begin : begin + CHUNK])
            folded = [_fold_plain(t) for t in chunk]
            word = tfidf(word_counter.transform(chunk), self.word_idf)
            fold = tfidf(fold_counter.transform([stem_words(t) for t in folded]), self.fold_idf)
            docs, buckets = char_ngram_buckets(folded)
            cols = self._char_column[buckets]
            keep = cols >= 0
            counts = _counts(docs[keep], cols[keep], len(chunk), self.char_buckets.shape[0])
            char = tfidf(counts, self.char_idf)
            if cite_counter is None:
                cite = sp.csr_matrix((len(chunk), 0), dtype=np.float32)
            else:
                cite = tfidf(cite_counter.transform([_cited(t) for t in chunk]), self.cite_idf) * CITE_WEIGHT
            blocks.append(sp.hstack([word, fold, char, cite], format="csr"))
        if not blocks:
            return sp.csr_matrix((0, self.n_features), dtype=np.float32)
        return sp.vstack(blocks, format="csr")


def _fixed_counter(vocab: list[str], ngram_range: tuple[int, int] = WORD_RANGE) -> CountVectorizer:
    return CountVectorizer(
        token_pattern=WORD_TOKEN,
        ngram_range=ngram_range,
        lowercase=False,
        vocabulary={term: i for i, term in enumerate(vocab)},
        dtype=np.float32,
    )


def fit_feature_space(texts: Sequence[str], min_df: int = 2) -> FeatureSpace:
    """Learn vocabularies and idf from texts already passed through model_text()."""
    n_docs = len(texts)
    folded = [fold_diacritics(t) for t in texts]

    def word_block(items: list[str], ngram_range=WORD_RANGE, least=min_df) -> tuple[list[str], np.ndarray]:
        counter = CountVectorizer(
            token_pattern=WORD_TOKEN, ngram_range=ngram_range, lowercase=False, min_df=least,
            dtype=np.float32,
        )
        try:
            counts = counter.fit_transform(items)
        except ValueError:  # no term at all (e.g. no text cites an article)
            return [], np.zeros(0, dtype=np.float32)
        vocab = [""] * len(counter.vocabulary_)
        for term, index in counter.vocabulary_.items():
            vocab[index] = term
        df = np.bincount(counts.indices, minlength=len(vocab))
        return vocab, smooth_idf(df, n_docs)

    word_vocab, word_idf = word_block(list(texts))
    fold_vocab, fold_idf = word_block([stem_words(t) for t in folded])
    cite_vocab, cite_idf = word_block([citation_tokens(t) for t in texts], (1, 1), 1)

    docs, buckets = char_ngram_buckets(folded)
    pairs = np.unique(docs * (1 << CHAR_BITS) + buckets)
    df_all = np.bincount(pairs & ((1 << CHAR_BITS) - 1), minlength=1 << CHAR_BITS)
    kept = np.flatnonzero(df_all >= min_df)
    return FeatureSpace(
        word_vocab=word_vocab,
        word_idf=word_idf,
        fold_vocab=fold_vocab,
        fold_idf=fold_idf,
        char_buckets=kept.astype(np.int64),
        char_idf=smooth_idf(df_all[kept], n_docs),
        cite_vocab=cite_vocab,
        cite_idf=cite_idf,
    )
