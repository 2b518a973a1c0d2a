"""`inbox-bot train`: retrain the classifier with the DPO's relabelled cases added to the corpus."""

from __future__ import annotations

from inbox_bot.config import Settings


def relabelled_examples(settings: Settings) -> list:
    """Cases the DPO relabelled become training examples (subject and text of the opening mail)."""
    from sqlalchemy import select

    from classifiers.corpus import Example
    from inbox_bot.database import Database
    from inbox_bot.parsing import parse_message
    from inbox_bot.schema import CaseEvent, Message

    try:
        db = Database(settings.database.url)
    except Exception:  # noqa: BLE001 - no database yet: nothing relabelled
        return []
    examples = []
    with db.session() as session:
        relabels = session.execute(
            select(CaseEvent).where(CaseEvent.kind == "relabelled").order_by(CaseEvent.id)
        ).scalars()
        latest: dict[int, list[str]] = {}
        for event in relabels:
            latest[event.case_id] = list(event.detail.get("labels", []))
        for case_id, labels in latest.items():
            message = session.execute(
                select(Message).where(Message.case_id == case_id).order_by(Message.id)
            ).scalars().first()
            if message is None or not message.raw:
                continue
            mail = parse_message(message.raw)
            examples.append(
                Example(
                    id=f"relabel-{case_id}", group=f"relabel-{case_id}", lang=mail.language,
                    labels=tuple(labels), subject=mail.subject, body=mail.text,
                )
            )
    db.dispose()
    return examples


def train_with_relabels(settings: Settings) -> str:
    from classifiers.train import train

    extra = relabelled_examples(settings)
    report = train(settings.classifier.model_dir, extra=extra)
    return f"{report}\n(relabelled cases added: {len(extra)})"
