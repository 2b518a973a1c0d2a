"""Read-only views of the database for the command line: plain dicts, times in ISO 8601."""

from __future__ import annotations

from sqlalchemy import select

from inbox_bot.database import Database
from inbox_bot.schema import Case


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def case_row(case: Case) -> dict:
    return {
        "reference": case.reference,
        "labels": list(case.labels or []),
        "status": case.status,
        "requester": case.requester,
        "received_at": _iso(case.received_at),
        "due_at": _iso(case.due_at),
        "language": case.language,
        "extended": case.extended,
        "breach_due_at": _iso(case.breach_due_at),
        "flags": list(case.flags or []),
    }


def case_rows(db: Database, status: str | None = None) -> list[dict]:
    with db.session() as session:
        query = select(Case).order_by(Case.id)
        if status:
            query = query.where(Case.status == status)
        return [case_row(c) for c in session.execute(query).scalars()]
