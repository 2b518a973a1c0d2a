"""Measure the classifier: grouped cross-validation, a labelled folder of mail, the shared letters.

Figures: per-label precision/recall/F1 and TP/FP/FN, macro-F1, exact-match accuracy (the whole
label set right), a true-label x predicted-label co-occurrence matrix, macro-F1 per language and
per any other grouping (e.g. the shared letters' variant).

macro-F1 averages over the labels that occur in the evaluated truth. A label absent from the
truth (e.g. breach_report in the shared letters) has no recall to measure; its false positives
still show in the per-label table and cost precision nowhere else, so they are listed.

Shared letters (../shared/corpora/requests, datenanfragen.de, never trained on): variants min, max
and letter; mapping of the manifest to our labels:

- type and secondary_types map one to one (access, erasure, rectification, restriction,
  portability, objection, complaint);
- objection with subtype art21_2_direct_marketing -> marketing_optout (not objection);
- consent_withdrawal -> marketing_optout only in those direct-marketing letters; in the erasure
  letters it withdraws consent "for the entire process", which is part of the erasure, not a
  marketing opt-out, so it adds no label there;
- type other (reminders about an unanswered request) is scored as the right the reminder chases,
  read from the GDPR article it names ("my request under Art. 15 GDPR of 2024-03-01" -> access;
  art. 16 rectification, 17 erasure, 18 restriction, 20 portability, 21 objection, 21(2)/(3)
  marketing_optout). A DPO files a reminder with the request it chases, and the deadline it
  restarts is that right's; calling it `other` would drop a chased request from the cases. The
  reminder's "else I will complain to the authority" is a conditional threat, not a complaint,
  so it adds no label. A reminder that names no article (the church templates' "§ {Artikel}")
  has no knowable truth and is left out, listed separately;
- the variant "raw" (template markup kept) is not scored.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classifiers.corpus import Example, normalise_labels
from inbox_bot.values import LABELS

SHARED_VARIANTS = ("min", "max", "letter")


@dataclass(frozen=True)
class LabelFigures:
    support: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class Report:
    name: str
    n: int
    per_label: dict[str, LabelFigures]
    macro_f1: float
    exact_match: float
    cooccurrence: dict[str, dict[str, int]]  # true label -> predicted label -> messages
    breakdowns: dict[str, dict[str, tuple[int, float, float]]]  # grouping -> value -> (n, macro-F1, exact)
    misses: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()  # (id, truth, predicted)
    notes: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


def _figures(truth: Sequence[tuple[str, ...]], pred: Sequence[tuple[str, ...]]) -> tuple[dict[str, LabelFigures], float, float]:
    per_label = {}
    f1s = []
    for label in LABELS:
        t = np.array([label in x for x in truth], dtype=bool)
        p = np.array([label in x for x in pred], dtype=bool)
        tp, fp, fn = int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        per_label[label] = LabelFigures(int(t.sum()), tp, fp, fn, precision, recall, f1)
        if t.any():
            f1s.append(f1)
    exact = float(np.mean([set(a) == set(b) for a, b in zip(truth, pred)])) if truth else 0.0
    return per_label, float(np.mean(f1s)) if f1s else 0.0, exact


def build_report(
    name: str,
    ids: Sequence[str],
    truth: Sequence[tuple[str, ...]],
    pred: Sequence[tuple[str, ...]],
    groupings: dict[str, Sequence[str]] | None = None,
    notes: Iterable[str] = (),
    extra: dict | None = None,
) -> Report:
    """Figures for parallel lists of ids, true label sets and predicted label sets."""
    per_label, macro, exact = _figures(truth, pred)
    cooc: dict[str, dict[str, int]] = {label: {p: 0 for p in LABELS} for label in LABELS}
    for t, p in zip(truth, pred):
        for a in t:
            for b in p:
                cooc[a][b] += 1
    breakdowns = {}
    for grouping, values in (groupings or {}).items():
        buckets: dict[str, list[int]] = defaultdict(list)
        for i, value in enumerate(values):
            buckets[value].append(i)
        rows = {}
        for value in sorted(buckets):
            idx = buckets[value]
            _, m, e = _figures([truth[i] for i in idx], [pred[i] for i in idx])
            rows[value] = (len(idx), m, e)
        breakdowns[grouping] = rows
    misses = tuple((i, tuple(t), tuple(p)) for i, t, p in zip(ids, truth, pred) if set(t) != set(p))
    return Report(name, len(ids), per_label, macro, exact, cooc, breakdowns, misses, tuple(notes), extra or {})


def format_report(report: Report, misses: int = 0) -> str:
    """A plain-text table of the report, for the CLI and the benchmark notes."""
    lines = [f"{report.name}: {report.n} messages, macro-F1 {report.macro_f1:.3f}, exact match {report.exact_match:.3f}"]
    lines.append(f"{'label':<17}{'support':>8}{'TP':>6}{'FP':>6}{'FN':>6}{'P':>7}{'R':>7}{'F1':>7}")
    for label, f in report.per_label.items():
        if f.support == 0 and f.fp == 0:
            continue
        lines.append(
            f"{label:<17}{f.support:>8}{f.tp:>6}{f.fp:>6}{f.fn:>6}{f.precision:>7.3f}{f.recall:>7.3f}{f.f1:>7.3f}"
        )
    for grouping, rows in report.breakdowns.items():
        lines.append(f"by {grouping}: " + ", ".join(f"{v} {m:.3f} (n={n}, exact {e:.2f})" for v, (n, m, e) in rows.items()))
    used = [label for label in LABELS if any(report.cooccurrence[label].values()) or any(report.cooccurrence[x][label] for x in LABELS)]
    if used:
        short = {label: label[:6] for label in used}
        lines.append("true \\ predicted " + " ".join(f"{short[p]:>6}" for p in used))
        for t in used:
            lines.append(f"{t:<17}" + " ".join(f"{report.cooccurrence[t][p]:>6}" for p in used))
    lines.extend(report.notes)
    for ident, truth, pred in report.misses[:misses]:
        lines.append(f"  miss {ident}: truth {','.join(truth)} predicted {','.join(pred) or '-'}")
    return "\n".join(lines)


# --- grouped cross-validation on the project's corpus ------------------------------------------


def cross_validate(examples: Sequence[Example], folds: int = 5, options=None) -> Report:
    """Grouped k-fold: variants of one text (same `group`) never straddle training and test.

    Each fold trains the full recipe (features, calibration and thresholds from inner folds of its
    own training part), so test folds never influence a threshold.
    """
    from sklearn.model_selection import GroupKFold

    from classifiers.features import model_text
    from classifiers.model import Classifier, choose_labels
    from classifiers.train import TrainOptions, fit_model

    options = options or TrainOptions()
    examples = list(examples)
    texts = [model_text(e.subject, e.body) for e in examples]
    groups = [e.group for e in examples]
    predicted: list[tuple[str, ...]] = [()] * len(examples)
    for train_idx, test_idx in GroupKFold(n_splits=folds).split(texts, groups=groups):
        params, _ = fit_model([examples[i] for i in train_idx], options)
        model = Classifier(params)
        probs = model.probabilities([texts[i] for i in test_idx])
        chosen = choose_labels(probs, params.thresholds, params.labels)
        for row, i in enumerate(test_idx):
            predicted[i] = tuple(label for label, on in zip(params.labels, chosen[row]) if on)
    return build_report(
        f"grouped {folds}-fold cross-validation",
        [e.id for e in examples],
        [e.labels for e in examples],
        predicted,
        {"language": [e.lang for e in examples]},
    )


# --- the shared letters -------------------------------------------------------------------------


_ARTICLE_RIGHTS = {
    "art15": "access", "art16": "rectification", "art17": "erasure", "art18": "restriction",
    "art20": "portability", "art21": "objection", "art21_2": "marketing_optout", "art21_3": "marketing_optout",
}


def reminder_labels(text: str) -> tuple[str, ...] | None:
    """The rights a reminder chases, from the articles it names; None when it names none."""
    from classifiers.features import citation_tokens

    tokens = set(citation_tokens(text.lower()).split())
    if tokens & {"art21_2", "art21_3"}:
        tokens.discard("art21")
    rights = {_ARTICLE_RIGHTS[t] for t in tokens if t in _ARTICLE_RIGHTS}
    return normalise_labels(rights) if rights else None


def shared_letter_labels(row: dict[str, str], text: str = "") -> tuple[str, ...] | None:
    """Our labels for one MANIFEST.csv row and its letter text; None: left out (module docstring)."""
    kind = row["type"].strip()
    subtypes = set(filter(None, row.get("subtype", "").split(";")))
    secondary = set(filter(None, row.get("secondary_types", "").split(";")))
    if kind == "other":
        return reminder_labels(text)
    marketing = kind == "objection" and "art21_2_direct_marketing" in subtypes
    labels = {"marketing_optout" if marketing else kind}
    for extra in secondary:
        if extra == "consent_withdrawal":
            if marketing:
                labels.add("marketing_optout")
        elif extra in LABELS:
            labels.add(extra)
    return normalise_labels(labels, row.get("file", ""))


def evaluate_shared_requests(corpora_dir: str | Path, classifier=None) -> Report:
    """The datenanfragen.de letters of ../shared/corpora/requests, per variant and per language."""
    folder = Path(corpora_dir)
    if (folder / "requests" / "MANIFEST.csv").exists():
        folder = folder / "requests"
    if classifier is None:
        from classifiers.train import load_classifier

        classifier = load_classifier()
    with open(folder / "MANIFEST.csv", encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["variant"] in SHARED_VARIANTS]
    texts = {r["file"]: (folder / r["file"]).read_text(encoding="utf-8") for r in rows}
    scored, left_out = [], []
    for row in rows:
        labels = shared_letter_labels(row, texts[row["file"]])
        (left_out if labels is None else scored).append((row, labels))

    def run(items):
        return classifier.predict_many(
            [("", texts[r["file"]]) for r, _ in items], languages=[r["lang"] for r, _ in items]
        )

    predictions = run(scored)
    left_out_counts = Counter(",".join(p.labels) for p in run(left_out))
    reminders = [(r, labels, p) for (r, labels), p in zip(scored, predictions) if r["type"] == "other"]
    notes = [
        f"reminders scored as the right they chase: {len(reminders)}, "
        f"{sum(set(t) == set(p.labels) for _, t, p in reminders)} exactly right; "
        f"reminders naming no article (left out): {len(left_out)}, classified as "
        + ", ".join(f"{k} x{v}" for k, v in left_out_counts.most_common())
    ]
    return build_report(
        "shared letters (datenanfragen.de; min, max, letter)",
        [r["file"] for r, _ in scored],
        [labels for _, labels in scored],
        [p.labels for p in predictions],
        {"variant": [r["variant"] for r, _ in scored], "language": [r["lang"] for r, _ in scored]},
        notes,
        {"triage": sum(p.triage for p in predictions), "confidence": [p.confidence for p in predictions]},
    )


# --- a folder of .eml / .txt files with a labels CSV --------------------------------------------


def _labels_csv(folder: Path) -> Path:
    for name in ("labels.csv", "LABELS.csv"):
        if (folder / name).exists():
            return folder / name
    for path in sorted(folder.glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), [])
        if [h.strip().lower() for h in header[:2]] == ["file", "labels"]:
            return path
    raise FileNotFoundError(f"{folder}: no labels CSV (columns file,labels)")


def evaluate_folder(path: str | Path, classifier=None) -> Report:
    """Every file named in the folder's labels CSV (`file,labels`, labels separated by ';').

    A .eml is parsed with inbox_bot.parsing (subject, sender's text, language); any other file is
    read as a plain-text body with an empty subject.
    """
    folder = Path(path)
    if classifier is None:
        from classifiers.train import load_classifier

        classifier = load_classifier()
    ids, truth, pred, langs = [], [], [], []
    with open(_labels_csv(folder), encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            name = (row.get("file") or "").strip()
            if not name:
                continue
            labels = normalise_labels([x for x in (row.get("labels") or "").split(";") if x.strip()], f"labels.csv:{number}")
            file = folder / name
            if file.suffix.lower() == ".eml":
                from inbox_bot.parsing import parse_message

                mail = parse_message(file.read_bytes())
                prediction = classifier.predict(mail.subject, mail.text, language=mail.language or None)
            else:
                prediction = classifier.predict("", file.read_text(encoding="utf-8", errors="replace"))
            ids.append(name)
            truth.append(labels)
            pred.append(prediction.labels)
            langs.append(prediction.language)
    return build_report(str(folder), ids, truth, pred, {"language": langs})


def evaluate_main(path: str | Path) -> str:
    """`inbox-bot evaluate PATH`: the shared letters when PATH holds a MANIFEST.csv, else a folder."""
    folder = Path(path)
    if (folder / "MANIFEST.csv").exists() or (folder / "requests" / "MANIFEST.csv").exists():
        return format_report(evaluate_shared_requests(folder))
    return format_report(evaluate_folder(folder))
