"""The fitted request classifier and its decision rule: text in, labels with confidences out.

A Classifier holds plain arrays only (feature space, linear weights, calibration, thresholds), so
it can be stored without pickle (classifiers.store) and rebuilt exactly.

How a label set is chosen, from the calibrated probability p[l] of every label:

1. every label whose p reaches its own threshold (thresholds chosen on out-of-fold predictions of
   the training corpus, never on test data);
2. if none does, the single most probable label, because every message that reaches the
   classifier was written by a person and must land somewhere;
3. "other" never stands beside a request: it stays alone when its p beats every chosen request
   label, else it is dropped.

`confidence` is the probability that the whole set is right under the weakest of its parts:
min(p[l] for chosen l, 1 - p[l] for unchosen l). One doubtful label, in or out, makes the set
doubtful. Below `triage_threshold` the message goes to the DPO for triage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from classifiers.features import FeatureSpace, model_text
from inbox_bot.values import LABELS

MODEL_FORMAT = 3  # bump when the stored layout or the feature recipe changes


@dataclass(frozen=True)
class Prediction:
    """The classifier's answer for one message."""

    labels: tuple[str, ...]  # in LABELS order; ("other",) alone or request labels
    scores: dict[str, float]  # calibrated probability per label
    confidence: float  # 0..1, see the module docstring
    language: str  # ISO 639-1 or "und"
    model_version: str
    triage: bool  # confidence below the triage threshold: the DPO must label it


@dataclass
class ModelParams:
    """Everything a Classifier needs, as arrays and plain values."""

    labels: tuple[str, ...]
    features: FeatureSpace
    coef: np.ndarray  # (labels, features) float32
    intercept: np.ndarray  # (labels,)
    calib_a: np.ndarray  # p = sigmoid(a * score + b), per label
    calib_b: np.ndarray
    thresholds: np.ndarray  # per label
    triage_threshold: float
    corpus_hash: str
    meta: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return f"{MODEL_FORMAT}-{self.corpus_hash[:12]}"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -35.0, 35.0)))


def choose_labels(probs: np.ndarray, thresholds: np.ndarray, labels: Sequence[str] = LABELS) -> np.ndarray:
    """The decision rule of the module docstring, for a (messages, labels) matrix; boolean out."""
    chosen = probs >= thresholds[None, :]
    none = ~chosen.any(axis=1)
    chosen[none, probs[none].argmax(axis=1)] = True
    if "other" in labels:
        o = list(labels).index("other")
        requests = np.ones(len(labels), dtype=bool)
        requests[o] = False
        both = chosen[:, o] & chosen[:, requests].any(axis=1)
        if both.any():
            best_request = np.where(chosen[:, requests], probs[:, requests], -1.0).max(axis=1)
            other_wins = both & (probs[:, o] > best_request)
            drop_requests = np.flatnonzero(other_wins)
            chosen[np.ix_(drop_requests, np.flatnonzero(requests))] = False
            chosen[both & ~other_wins, o] = False
    return chosen


def set_confidence(probs: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """min(p over chosen labels, 1 - p over unchosen labels), per message."""
    return np.where(chosen, probs, 1.0 - probs).min(axis=1)


class Classifier:
    """A fitted classifier. Pure: no I/O after construction except language detection models."""

    def __init__(self, params: ModelParams):
        self.params = params
        self.labels = params.labels
        self.version = params.version
        self.triage_threshold = float(params.triage_threshold)
        self._coef_t = np.ascontiguousarray(params.coef.T, dtype=np.float32)

    def probabilities(self, texts: Sequence[str], plain: bool = False) -> np.ndarray:
        """Calibrated probabilities for texts already passed through model_text().

        `plain`: features from FeatureSpace.transform_plain, the reference the fast transform is
        tested against; the answer is the same, only slower.
        """
        x = (self.params.features.transform_plain if plain else self.params.features.transform)(texts)
        scores = np.asarray(x @ self._coef_t) + self.params.intercept[None, :]
        return _sigmoid(self.params.calib_a[None, :] * scores + self.params.calib_b[None, :])

    def predict(
        self,
        subject: str,
        body: str,
        language: str | None = None,
        triage_threshold: float | None = None,
    ) -> Prediction:
        """Classify one message. `body` is the raw text body; quoted history is set aside here."""
        return self._predict([(subject, body)], [language], triage_threshold)[0]

    def predict_many(
        self,
        items: Sequence[tuple[str, str]],
        triage_threshold: float | None = None,
        languages: Sequence[str | None] | None = None,
        own_text: bool = False,
        plain: bool = False,
    ) -> list[Prediction]:
        """Classify (subject, raw body) pairs in one vectorised pass.

        `languages`, parallel to `items`, are languages the caller already knows (ISO 639-1);
        a None or "und" entry is detected here. Detection is most of the classification time, so
        a caller that parsed the message passes what it found. `own_text`: the bodies are
        `textprep.sender_text` already (as the parser keeps it), so it is not worked out twice.
        `plain`: see probabilities().
        """
        if languages is None:
            languages = [None] * len(items)
        elif len(languages) != len(items):
            raise ValueError(f"{len(languages)} languages for {len(items)} messages")
        return self._predict(items, languages, triage_threshold, own_text, plain)

    def _predict(
        self,
        items: Sequence[tuple[str, str]],
        languages: Sequence[str | None],
        triage_threshold: float | None,
        own_text: bool = False,
        plain: bool = False,
    ) -> list[Prediction]:
        from classifiers.textprep import sender_text

        own = [body or "" for _, body in items] if own_text else [sender_text(body or "") for _, body in items]
        texts = [model_text(subject, text, prepared=True) for (subject, _), text in zip(items, own)]
        langs = [
            given if given and given != "und" else _detect(text if text.strip() else subject)
            for given, (subject, _), text in zip(languages, items, own)
        ]
        limit = self.triage_threshold if triage_threshold is None else float(triage_threshold)
        if not items:
            return []
        probs = self.probabilities(texts, plain)
        chosen = choose_labels(probs, self.params.thresholds, self.labels)
        confidence = set_confidence(probs, chosen)
        # tolist() turns every number into a Python float or bool at once; float() and bool() of
        # one numpy scalar at a time were a tenth of a batch's time. round() stays Python's own.
        labels = self.labels
        triage = (confidence < limit).tolist()
        return [
            Prediction(
                labels=tuple(label for label, on in zip(labels, chosen_row) if on),
                scores={label: round(p, 4) for label, p in zip(labels, prob_row)},
                confidence=round(sure, 4),
                language=language,
                model_version=self.version,
                triage=low,
            )
            for chosen_row, prob_row, sure, language, low in zip(
                chosen.tolist(), probs.tolist(), confidence.tolist(), langs, triage
            )
        ]


def _detect(text: str) -> str:
    from classifiers.language import detect_language

    return detect_language(text)
