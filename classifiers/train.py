"""Fit the request classifier on the corpus: features, linear models, calibration, thresholds.

Recipe (seeded; the same corpus gives the same model, byte for byte in its arrays):

1. Feature space (classifiers.features) fitted on the training texts.
2. One binary linear model per label (one-vs-rest), liblinear, fixed random_state.
3. Out-of-fold decision scores from grouped k-fold on the training corpus (variants of one text
   stay in one fold). The feature space of step 1 is reused inside the folds: only vocabulary and
   idf see the held-out fold, never its labels.
4. Calibration per label on those out-of-fold scores: Platt scaling (a sigmoid fitted on the
   scores, as CalibratedClassifierCV(method="sigmoid", ensemble=False) does), or, for logistic
   regression, its own probabilities. Measured on the corpus, see bench/classifier_results.md.
5. Per-label thresholds maximising the out-of-fold F1; then the triage threshold: the set
   confidence below which TRIAGE_RATE of the out-of-fold messages fall. An accuracy target
   (accept only where 95 % of accepted sets are exactly right) sent half of all mail to triage,
   which leaves the DPO labelling by hand; a rate is what a DPO can staff. Measured on the corpus
   (bench/classifier_results.md), accepted-set exact match rises from 0.89 at 10 % to 0.92 at
   20 %; 15 % keeps headroom for mail less familiar than the corpus, whose confidence is lower.
6. The final linear models fitted on the whole corpus.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.svm import LinearSVC

from classifiers.corpus import Example, corpus_hash, load_corpus
from classifiers.features import fit_feature_space, model_text
from classifiers.model import Classifier, ModelParams, choose_labels, set_confidence
from classifiers.store import ModelIntegrityError, default_model_dir, load_model, save_model
from inbox_bot.values import LABELS

log = logging.getLogger(__name__)

SEED = 20240601
INNER_FOLDS = 5
TRIAGE_RATE = 0.15  # share of out-of-fold messages below the triage threshold
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.025), 4)


@dataclass(frozen=True)
class TrainOptions:
    """Model choices; the defaults are the measured best (bench/classifier_results.md)."""

    # No class weights: "balanced" pushed every label's score up for the rarer side and cost
    # precision on multi-label letters (shared letters 0.841 -> 0.842 without, and training
    # 39 s -> 14 s on 4,069 examples); C 0.5 over 0.3: shared letters 0.881 -> 0.898.
    kind: str = "svm"  # "svm" (linear SVM) or "lr" (logistic regression)
    calibration: str = "platt"  # "platt" (sigmoid on out-of-fold scores) or "none" (LR only)
    c: float = 0.5
    class_weight: str | None = None
    min_df: int = 2
    inner_folds: int = INNER_FOLDS
    triage_rate: float = TRIAGE_RATE


@dataclass(frozen=True)
class TrainReport:
    """What training did, printable by the CLI."""

    version: str
    corpus_hash: str
    examples: int
    features: int
    seconds: float
    thresholds: dict[str, float]
    triage_threshold: float
    oof_macro_f1: float  # out-of-fold macro-F1 on the training corpus (a validation figure)
    oof_exact_match: float
    oof_triage_rate: float
    brier: float  # mean Brier score of the calibrated out-of-fold probabilities
    model_path: str | None = None
    label_counts: dict[str, int] = field(default_factory=dict)

    def format(self) -> str:
        lines = [
            f"model {self.version}: {self.examples} examples, {self.features} features, "
            f"trained in {self.seconds:.1f} s",
            f"out-of-fold (validation) macro-F1 {self.oof_macro_f1:.3f}, exact match "
            f"{self.oof_exact_match:.3f}, Brier {self.brier:.4f}",
            f"triage below confidence {self.triage_threshold:.3f} "
            f"({self.oof_triage_rate:.1%} of validation messages)",
            "thresholds: " + ", ".join(f"{k} {v:.3f}" for k, v in self.thresholds.items()),
        ]
        if self.model_path:
            lines.append(f"stored at {self.model_path}")
        return "\n".join(lines)


def label_matrix(examples: Sequence[Example], labels: Sequence[str] = LABELS) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    y = np.zeros((len(examples), len(labels)), dtype=np.int8)
    for row, example in enumerate(examples):
        for label in example.labels:
            y[row, index[label]] = 1
    return y


def _estimator(options: TrainOptions, seed: int):
    if options.kind == "svm":
        return LinearSVC(C=options.c, class_weight=options.class_weight, random_state=seed, max_iter=5000)
    return LogisticRegression(
        # The dual liblinear solver: with far more features than messages it converged ~10x faster
        # than the primal one (3.9 s against 31 s for the ten labels on 3,569 messages).
        C=options.c, class_weight=options.class_weight, solver="liblinear", dual=True,
        random_state=seed, max_iter=2000,
    )


def _fit_linear(x, y: np.ndarray, options: TrainOptions, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(coef, intercept) per label. A label absent (or universal) in y gets a constant score."""
    coef = np.zeros((y.shape[1], x.shape[1]), dtype=np.float32)
    intercept = np.zeros(y.shape[1])
    for j in range(y.shape[1]):
        positives = int(y[:, j].sum())
        if positives == 0 or positives == y.shape[0]:
            intercept[j] = 8.0 if positives else -8.0
            continue
        model = _estimator(options, seed).fit(x, y[:, j])
        coef[j] = model.coef_.ravel()
        intercept[j] = float(np.ravel(model.intercept_)[0])
    return coef, intercept


def _platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if y.min() == y.max():
        return 1.0, 0.0
    model = LogisticRegression(C=1e4, solver="lbfgs").fit(scores.reshape(-1, 1), y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def _f1(tp: float, fp: float, fn: float) -> float:
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def _best_threshold(probs: np.ndarray, y: np.ndarray) -> float:
    best, best_f1 = 0.5, -1.0
    for t in THRESHOLD_GRID:
        pred = probs >= t
        f1 = _f1(float((pred & (y == 1)).sum()), float((pred & (y == 0)).sum()), float((~pred & (y == 1)).sum()))
        # Ties go to the threshold nearest 0.5, the most stable choice.
        if f1 > best_f1 + 1e-9 or (abs(f1 - best_f1) <= 1e-9 and abs(t - 0.5) < abs(best - 0.5)):
            best, best_f1 = float(t), f1
    return best


def triage_threshold_for(confidence: np.ndarray, rate: float) -> float:
    """The confidence t below which (about) `rate` of the messages fall: strictly below t go to triage."""
    if confidence.size == 0:
        return 0.5
    ordered = np.sort(confidence, kind="stable")
    k = min(int(round(rate * ordered.size)), ordered.size - 1)
    return float(ordered[k])


def triage_curve(confidence: np.ndarray, exact: np.ndarray, rates=(0.05, 0.10, 0.15, 0.20, 0.25, 0.30)) -> list[tuple[float, float, float]]:
    """(triage rate, threshold, exact match of the accepted messages) for each rate."""
    rows = []
    for rate in rates:
        t = triage_threshold_for(confidence, rate)
        accepted = confidence >= t
        rows.append((float((~accepted).mean()), t, float(exact[accepted].mean()) if accepted.any() else 0.0))
    return rows


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    scores = []
    for j in range(y.shape[1]):
        if y[:, j].sum() == 0:
            continue
        tp = float((pred[:, j] & (y[:, j] == 1)).sum())
        scores.append(_f1(tp, float((pred[:, j] & (y[:, j] == 0)).sum()), float((~pred[:, j] & (y[:, j] == 1)).sum())))
    return float(np.mean(scores)) if scores else 0.0


def fit_model(
    examples: Sequence[Example], options: TrainOptions = TrainOptions(), seed: int = SEED
) -> tuple[ModelParams, dict]:
    """Fit on examples; returns the parameters and the out-of-fold validation figures."""
    started = time.perf_counter()
    texts = [model_text(e.subject, e.body) for e in examples]
    y = label_matrix(examples)
    groups = np.array([e.group for e in examples])
    space = fit_feature_space(texts, min_df=options.min_df)
    x = space.transform(texts)

    oof = np.zeros(y.shape, dtype=np.float64)
    n_groups = len(set(groups.tolist()))
    folds = min(options.inner_folds, n_groups)
    for train_idx, valid_idx in GroupKFold(n_splits=folds).split(x, y, groups):
        coef, intercept = _fit_linear(x[train_idx], y[train_idx], options, seed)
        oof[valid_idx] = np.asarray(x[valid_idx] @ coef.T) + intercept[None, :]

    if options.calibration == "platt" or options.kind == "svm":
        calib = [_platt(oof[:, j], y[:, j]) for j in range(y.shape[1])]
    else:
        calib = [(1.0, 0.0)] * y.shape[1]
    calib_a = np.array([a for a, _ in calib])
    calib_b = np.array([b for _, b in calib])
    probs = 1.0 / (1.0 + np.exp(-np.clip(calib_a * oof + calib_b, -35, 35)))
    thresholds = np.array([_best_threshold(probs[:, j], y[:, j]) for j in range(y.shape[1])])
    chosen = choose_labels(probs, thresholds, LABELS)
    exact = (chosen == (y == 1)).all(axis=1)
    confidence = set_confidence(probs, chosen)
    triage = triage_threshold_for(confidence, options.triage_rate)

    coef, intercept = _fit_linear(x, y, options, seed)
    digest = corpus_hash(examples)
    validation = {
        "oof_macro_f1": macro_f1(y, chosen),
        "oof_exact_match": float(exact.mean()),
        "oof_triage_rate": float((confidence < triage).mean()),
        "oof_accepted_exact": float(exact[confidence >= triage].mean()) if (confidence >= triage).any() else 0.0,
        "triage_curve": triage_curve(confidence, exact),
        "brier": float(((probs - y) ** 2).mean()),
        "log_loss": float(-np.mean(y * np.log(np.clip(probs, 1e-9, 1)) + (1 - y) * np.log(np.clip(1 - probs, 1e-9, 1)))),
        "oof_probs": probs,
        "oof_chosen": chosen,
    }
    params = ModelParams(
        labels=LABELS,
        features=space,
        coef=coef,
        intercept=intercept,
        calib_a=calib_a,
        calib_b=calib_b,
        thresholds=thresholds,
        triage_threshold=triage,
        corpus_hash=digest,
        meta={
            "kind": options.kind,
            "calibration": options.calibration,
            "c": options.c,
            "examples": len(examples),
            "seconds": round(time.perf_counter() - started, 2),
            "oof_macro_f1": round(validation["oof_macro_f1"], 4),
        },
    )
    return params, validation


_cache: dict[tuple[str, str], Classifier] = {}
_cache_lock = threading.Lock()


def train(model_dir: str | Path | None = None, extra: Iterable[Example] = ()) -> TrainReport:
    """Retrain from the corpus (plus `extra`, e.g. the DPO's relabels) and store the model."""
    report, _ = _train_and_store(model_dir, load_corpus(extra))
    return report


def _train_and_store(model_dir: str | Path | None, examples: list[Example]) -> tuple[TrainReport, Classifier]:
    started = time.perf_counter()
    params, validation = fit_model(examples)
    seconds = time.perf_counter() - started
    path = save_model(params, model_dir)
    classifier = Classifier(params)
    with _cache_lock:
        _cache[(str(path.parent.resolve()), params.corpus_hash)] = classifier
    y = label_matrix(examples)
    report = TrainReport(
        version=params.version,
        corpus_hash=params.corpus_hash,
        examples=len(examples),
        features=params.features.n_features,
        seconds=seconds,
        thresholds={label: float(t) for label, t in zip(LABELS, params.thresholds)},
        triage_threshold=params.triage_threshold,
        oof_macro_f1=validation["oof_macro_f1"],
        oof_exact_match=validation["oof_exact_match"],
        oof_triage_rate=validation["oof_triage_rate"],
        brier=validation["brier"],
        model_path=str(path),
        label_counts={label: int(y[:, j].sum()) for j, label in enumerate(LABELS)},
    )
    log.info("trained classifier %s on %d examples in %.1f s", params.version, len(examples), seconds)
    return report, classifier


def load_classifier(model_dir: str | Path | None = None, extra: Iterable[Example] = ()) -> Classifier:
    """The stored model when it was trained on exactly the current corpus; else train and store.

    A stored file that fails its integrity check is never used: it is replaced by a fresh model.
    """
    examples = load_corpus(extra)
    digest = corpus_hash(examples)
    folder = Path(model_dir) if model_dir is not None else default_model_dir()
    key = (str(folder.resolve()), digest)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    try:
        params = load_model(folder)
        if params.corpus_hash == digest:
            classifier = Classifier(params)
            with _cache_lock:
                _cache[key] = classifier
            return classifier
        log.info("stored classifier is for another corpus; retraining")
    except FileNotFoundError:
        log.info("no stored classifier; training one")
    except ModelIntegrityError as exc:
        log.warning("stored classifier refused: %s; retraining", exc)
    _, classifier = _train_and_store(folder, examples)
    return classifier


def train_main(model_dir: str | Path | None = None) -> str:
    """`inbox-bot train`: retrain and return the printable report."""
    return train(model_dir).format()
