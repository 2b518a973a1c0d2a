"""Evaluation: figures, the shared letters' label mapping, labelled folders of .txt and .eml."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifiers.corpus import DATA_DIR, read_jsonl
from classifiers.evaluate import (
    build_report,
    evaluate_folder,
    evaluate_shared_requests,
    format_report,
    shared_letter_labels,
)
from classifiers.model import Classifier
from classifiers.train import TrainOptions, fit_model

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "requests"


@pytest.fixture(scope="module")
def small_classifier() -> Classifier:
    # The seed examples alone train in about a second: enough to exercise the evaluation paths.
    params, _ = fit_model(read_jsonl(DATA_DIR / "seed_model.jsonl"), TrainOptions(inner_folds=3, min_df=1))
    return Classifier(params)


def test_figures_on_a_literal_case():
    # Guards the arithmetic: one hit, one extra label, one miss.
    report = build_report(
        "t", ["a", "b", "c"], [("access",), ("erasure",), ("access", "erasure")],
        [("access",), ("access", "erasure"), ("erasure",)], {"language": ["pl", "pl", "en"]},
    )
    access = report.per_label["access"]
    assert (access.tp, access.fp, access.fn) == (1, 1, 1)
    assert report.per_label["erasure"].f1 == 1.0
    assert report.macro_f1 == pytest.approx((0.5 + 1.0) / 2)
    assert report.exact_match == pytest.approx(1 / 3)
    assert report.cooccurrence["erasure"]["access"] == 1
    assert report.breakdowns["language"]["pl"][0] == 2
    assert "macro-F1 0.750" in format_report(report)


def test_shared_letter_mapping():
    # Guards the documented mapping: a direct-marketing objection is a marketing opt-out, a
    # general consent withdrawal adds nothing, a reminder is the right it chases (or left out
    # when it names no article).
    assert shared_letter_labels({"type": "objection", "subtype": "art21_2_direct_marketing",
                                 "secondary_types": "marketing_optout;consent_withdrawal"}) == ("marketing_optout",)
    assert shared_letter_labels({"type": "erasure", "subtype": "",
                                 "secondary_types": "consent_withdrawal;objection;restriction"}) == (
        "erasure", "restriction", "objection")
    assert shared_letter_labels({"type": "access", "subtype": "", "secondary_types": "portability"}) == (
        "access", "portability")
    reminder = {"type": "other", "subtype": "reminder_unanswered_request", "secondary_types": ""}
    assert shared_letter_labels(reminder, "Am 2024-03-01 hatte ich eine Anfrage nach Art. 15 DSGVO gestellt. "
                                          "Die Frist nach Art. 12 Abs. 3 DSGVO ist überschritten.") == ("access",)
    assert shared_letter_labels(reminder, "eine Anfrage nach § {Artikel} KDG") is None


def test_evaluate_folder_reads_txt_and_eml(tmp_path, small_classifier):
    # Guards the CLI's folder format: a labels CSV with ';' between labels, .txt and .eml files.
    (tmp_path / "a.txt").write_text("Proszę usunąć moje konto i wszystkie moje dane.", encoding="utf-8")
    (tmp_path / "b.eml").write_bytes(
        b"From: Anna <anna@example.com>\r\nTo: iodo@optingo.eu\r\nSubject: Unsubscribe\r\n"
        b"Message-ID: <1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Unsubscribe me from your newsletter please.\r\n"
    )
    (tmp_path / "labels.csv").write_text("file,labels\na.txt,erasure\nb.eml,marketing_optout;erasure\n", encoding="utf-8")
    report = evaluate_folder(tmp_path, small_classifier)
    assert report.n == 2
    assert report.per_label["erasure"].support == 2
    assert report.per_label["marketing_optout"].support == 1


@pytest.mark.skipif(not (SHARED / "MANIFEST.csv").exists(), reason="../shared/corpora/requests is absent")
def test_shared_letters_are_all_read(small_classifier):
    # Guards the manifest reading: 198 letters in min/max/letter, 4 reminders that name no
    # article left out.
    report = evaluate_shared_requests(SHARED, small_classifier)
    assert report.n == 194
    assert set(report.breakdowns["variant"]) == {"min", "max", "letter"}
    assert "reminders" in report.notes[0]
