"""The marketing suppression list: addresses that must receive no marketing, kept normalised.

It governs marketing only. Nothing here is consulted before a legally required reply.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox_bot import grouplookups
from inbox_bot.database import unwritten
from inbox_bot.errors import SenderError
from inbox_bot.schema import Suppression, utcnow


def normalise(address: str) -> str:
    """The form every list entry and every lookup uses; SenderError for a non-address."""
    from inbox_bot.parsing import normalise_address

    normalised = normalise_address(address.strip())
    if not normalised:
        raise SenderError(f"not a valid email address: {address.strip()[:80]!r}")
    return normalised


def add(session: Session, address: str, *, reason: str = "marketing_optout", source: str | None = None) -> bool:
    """Put an address on the list; False when it was there already (adding twice is harmless)."""
    normalised = normalise(address)
    lookups = grouplookups.of(session)
    if lookups is not None and normalised in lookups.senders:
        # Read with the group's other senders; what the group adds is noted there too.
        if normalised in lookups.suppressed:
            return False
        lookups.suppressed.add(normalised)
    elif _listed(session, normalised):
        return False
    session.add(Suppression(address=normalised, reason=reason, source=source, created_at=utcnow()))
    return True


def _listed(session: Session, normalised: str) -> bool:
    # Added earlier in this transaction but not yet written counts too (the pipeline writes a
    # group's rows together at its commit, not with a flush here).
    if any(row.address == normalised for row in unwritten(session, Suppression)):
        return True
    return session.connection().execute(select(Suppression.id).where(Suppression.address == normalised)).first() is not None


def remove(session: Session, address: str) -> bool:
    entry = session.execute(select(Suppression).where(Suppression.address == normalise(address))).scalar_one_or_none()
    if entry is None:
        return False
    session.delete(entry)
    return True


def is_suppressed(session: Session, address: str) -> bool:
    try:
        normalised = normalise(address)
    except SenderError:
        return False
    return session.execute(select(Suppression.id).where(Suppression.address == normalised)).first() is not None


def export_csv(session: Session) -> str:
    """CSV for the marketing tool: address, reason, since (ISO 8601 UTC)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["address", "reason", "since"])
    for entry in session.execute(select(Suppression).order_by(Suppression.address)).scalars():
        writer.writerow([entry.address, entry.reason, entry.created_at.isoformat()])
    return out.getvalue()
