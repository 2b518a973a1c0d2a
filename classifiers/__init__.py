"""The request classifier: corpus, training, evaluation and the model interface the daemon calls.

Public API (imported lazily, so `import classifiers` stays cheap for tools that only read the
corpus): Prediction, Classifier, load_classifier, train, TrainReport, Example, load_corpus,
corpus_hash, evaluate_folder, evaluate_shared_requests, cross_validate, format_report,
train_main, evaluate_main.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Prediction": "classifiers.model",
    "Classifier": "classifiers.model",
    "load_classifier": "classifiers.train",
    "train": "classifiers.train",
    "train_main": "classifiers.train",
    "TrainReport": "classifiers.train",
    "Example": "classifiers.corpus",
    "load_corpus": "classifiers.corpus",
    "corpus_hash": "classifiers.corpus",
    "evaluate_folder": "classifiers.evaluate",
    "evaluate_shared_requests": "classifiers.evaluate",
    "cross_validate": "classifiers.evaluate",
    "format_report": "classifiers.evaluate",
    "evaluate_main": "classifiers.evaluate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'classifiers' has no attribute {name!r}")
