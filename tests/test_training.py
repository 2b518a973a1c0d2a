"""The DPO's relabelled cases join the training data at the next `inbox-bot train`."""

from __future__ import annotations

from classifiers.corpus import corpus_hash, load_corpus
from helpers import request_mail, run_once, settings_for
from inbox_bot import lifecycle
from inbox_bot.database import Database
from inbox_bot.schema import Case, utcnow
from inbox_bot.training import relabelled_examples


def test_a_relabelled_case_becomes_a_training_example(dovecot, smtp_sink, tmp_path, classifier_ready):
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/t.db")
    # Vague enough that the DPO may well have to say what it is.
    dovecot.append(request_mail("Ola <ola@example.pl>", "pytanie", "Dzień dobry, chodzi mi o moje dane u Was, co dalej?"))
    run_once(settings)
    db = Database(settings.database.url)
    with db.transaction() as session:
        case = session.query(Case).one()
        lifecycle.relabel(session, settings, case, ["access"], utcnow(), actor="dpo")
    db.dispose()

    (example,) = relabelled_examples(settings)
    assert example.labels == ("access",)
    assert "moje dane" in example.body and example.subject == "pytanie"
    # Adding it changes the corpus, so the next load or train builds a new model version.
    base = load_corpus()
    assert corpus_hash(load_corpus(extra=[example])) != corpus_hash(base)


def test_no_database_means_no_relabels(tmp_path):
    from inbox_bot import config

    settings = config.from_dict(
        {"organisation": dict(config.DEFAULT_ORGANISATION), "database": {"url": f"sqlite:///{tmp_path}/none.db"}}
    )
    assert relabelled_examples(settings) == []
