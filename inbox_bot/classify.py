"""The daemon's side of classification: calls the model in classifiers/ and returns values.

The model is loaded (or trained from the shipped corpus) once per process, because training
takes seconds and a daemon classifies for years.
"""

from __future__ import annotations

import threading
from typing import Sequence

from inbox_bot.config import ClassifierSettings, Settings
from inbox_bot.values import Classification, InboundMail

_lock = threading.Lock()
_models: dict[str, object] = {}


def model(settings: Settings):
    return model_for(settings.classifier)


def model_for(cs: ClassifierSettings):
    """The model for these settings: loaded (or trained) at the first call in this process."""
    key = cs.model_dir or ""
    with _lock:
        if key not in _models:
            from classifiers.train import load_classifier

            _models[key] = load_classifier(cs.model_dir, extra=_relabelled_examples(cs))
        return _models[key]


def _relabelled_examples(cs: ClassifierSettings) -> tuple:
    # The DPO's relabelled cases join the training data at the next `inbox-bot train`;
    # loading an existing model does not need them.
    return ()


def forget_model() -> None:
    with _lock:
        _models.clear()


def classify_many(settings: Settings, mails: Sequence[InboundMail]) -> list[Classification]:
    return classify_mails(settings.classifier, mails)


def classify_mails(cs: ClassifierSettings, mails: Sequence[InboundMail]) -> list[Classification]:
    """Classify in one vectorised pass: per message, the model costs ten times as much."""
    if not mails:
        return []
    clf = model_for(cs)
    # The parser has detected each message's language already: detecting it twice would be
    # most of the classification time.
    predictions = clf.predict_many(
        # The parser kept what the sender wrote (InboundMail.text = sender_text(full_text)).
        [(m.subject, m.text) for m in mails],
        own_text=True,
        triage_threshold=cs.triage_threshold,
        languages=[m.language if m.language != "und" else None for m in mails],
    )
    return [
        Classification(
            labels=tuple(p.labels),
            scores=dict(p.scores),
            confidence=float(p.confidence),
            language=m.language if m.language != "und" else p.language,
            model_version=p.model_version,
            triage=bool(p.triage),
        )
        for m, p in zip(mails, predictions)
    ]
