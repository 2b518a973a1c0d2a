"""The accountability register (art. 5(2) GDPR): one CSV row per case, no personal data.

Columns: reference, types, received, due, extended, answered, outcome. Dates are on the
organisation's local calendar (ISO 8601), types are joined with ";" so a spreadsheet keeps
them in one cell; an anonymised case exports like any other.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox_bot import deadlines
from inbox_bot.config import Settings
from inbox_bot.schema import Case

COLUMNS = ("reference", "types", "received", "due", "extended", "answered", "outcome")


def outcome_of(case: Case) -> str:
    """The recorded outcome, or where the case stands when none was recorded yet."""
    if case.outcome:
        return case.outcome
    return "closed" if case.status == "closed" else "open"


def register_rows(session: Session, settings: Settings) -> list[dict[str, str]]:
    tz = settings.organisation.timezone

    def day(value: datetime | None) -> str:
        return deadlines.local_date(value, tz).isoformat() if value is not None else ""

    rows = []
    for case in session.execute(select(Case).order_by(Case.received_at, Case.id)).scalars():
        rows.append({
            "reference": case.reference,
            "types": ";".join(case.labels or []),
            "received": day(case.received_at),
            "due": day(case.due_at),
            "extended": "yes" if case.extended else "no",
            "answered": day(case.answered_at),
            "outcome": outcome_of(case),
        })
    return rows


def export_csv(session: Session, settings: Settings) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(register_rows(session, settings))
    return buffer.getvalue()
