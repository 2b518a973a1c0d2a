"""Commands for drafts: `inbox-bot drafts list|show|approve|reject|edit`.

The command-line way to the same decisions the DPO can take by mail (inbox_bot.approval); each
command is one transaction and records its decision on the case with the actor "cli". A draft
is sent at most once, whichever way it is approved.
"""

from __future__ import annotations

import json

import click

from inbox_bot.cli import Context, Group, cli
from inbox_bot.errors import InboxBotError

ACTOR = "cli"


@cli.group(cls=Group)
def drafts():
    """Replies waiting for the DPO's approval."""


def _draft(session, draft_id: int):
    from inbox_bot.schema import Draft

    draft = session.get(Draft, draft_id)
    if draft is None:
        raise InboxBotError(f"no draft {draft_id}")
    return draft


def _reference(session, draft) -> str:
    from inbox_bot.schema import Case

    case = session.get(Case, draft.case_id)
    return case.reference if case is not None else "-"


@drafts.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also drafts already sent or rejected.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def drafts_list(obj: Context, show_all: bool, as_json: bool):
    """Pending drafts (with --all: every draft)."""
    from sqlalchemy import select

    from inbox_bot.schema import Draft

    db = obj.database()
    try:
        with db.session() as session:
            query = select(Draft).order_by(Draft.id)
            if not show_all:
                query = query.where(Draft.status == "pending")
            for draft in session.execute(query).scalars():
                row = {
                    "id": draft.id,
                    "reference": _reference(session, draft),
                    "kind": draft.kind,
                    "language": draft.language,
                    "status": draft.status,
                    "created_at": draft.created_at.isoformat(),
                    "decided_by": draft.decided_by,
                }
                if as_json:
                    click.echo(json.dumps(row, ensure_ascii=False))
                else:
                    click.echo(f"{draft.id:>5}  {row['reference']}  {draft.status:<9} {draft.kind:<20} {draft.language}")
    finally:
        db.dispose()


@drafts.command("show")
@click.argument("draft_id", type=int)
@click.pass_obj
def drafts_show(obj: Context, draft_id: int):
    """A draft's subject and text (the final text, once sent)."""
    db = obj.database()
    try:
        with db.session() as session:
            draft = _draft(session, draft_id)
            click.echo(f"Draft {draft.id}  {_reference(session, draft)}  {draft.kind}  {draft.status}")
            if draft.decided_by:
                click.echo(f"Decided by {draft.decided_by} at {draft.decided_at:%Y-%m-%d %H:%M} UTC")
            if draft.decision_note:
                click.echo(f"Note: {draft.decision_note}")
            click.echo(f"Subject: {draft.subject}")
            click.echo("")
            click.echo(draft.final_text if draft.final_text is not None else draft.body, nl=False)
    finally:
        db.dispose()


@drafts.command("approve")
@click.argument("draft_id", type=int)
@click.pass_obj
def drafts_approve(obj: Context, draft_id: int):
    """Approve a pending draft as it stands and queue it to the requester."""
    from inbox_bot import drafts as drafts_mod

    settings = obj.settings()
    db = obj.database()
    try:
        with db.transaction() as session:
            outbox_id = drafts_mod.approve(session, settings, _draft(session, draft_id), actor=ACTOR, via="cli")
    finally:
        db.dispose()
    click.echo(f"draft {draft_id} approved; queued as outbox #{outbox_id}")


@drafts.command("reject")
@click.argument("draft_id", type=int)
@click.option("--reason", required=True, help="Why the draft is rejected (kept in the case's history).")
@click.pass_obj
def drafts_reject(obj: Context, draft_id: int, reason: str):
    """Reject a pending draft; nothing is sent."""
    from inbox_bot import drafts as drafts_mod

    settings = obj.settings()
    db = obj.database()
    try:
        with db.transaction() as session:
            drafts_mod.reject(session, settings, _draft(session, draft_id), actor=ACTOR, reason=reason, via="cli")
    finally:
        db.dispose()
    click.echo(f"draft {draft_id} rejected")


@drafts.command("edit")
@click.argument("draft_id", type=int)
@click.option("--send", is_flag=True, help="Send the edited text at once instead of asking the DPO again by mail.")
@click.pass_obj
def drafts_edit(obj: Context, draft_id: int, send: bool):
    """Edit a pending draft in $EDITOR; then send it (--send) or mail it to the DPO again under a new token."""
    from inbox_bot import drafts as drafts_mod

    settings = obj.settings()
    db = obj.database()
    try:
        with db.session() as session:
            draft = _draft(session, draft_id)
            if draft.status != "pending":
                raise InboxBotError(f"draft {draft_id} is already {draft.status}")
            original = draft.body
        edited = click.edit(original, extension=".txt", require_save=True)
        if edited is None or drafts_mod.same_text(edited, original):
            click.echo(f"draft {draft_id} unchanged")
            return
        with db.transaction() as session:
            draft = _draft(session, draft_id)
            if send:
                outbox_id = drafts_mod.approve(session, settings, draft, actor=ACTOR, text=edited, via="cli")
                message = f"draft {draft_id} edited and approved; queued as outbox #{outbox_id}"
            else:
                drafts_mod.revise(session, settings, draft, edited, actor=ACTOR)
                message = f"draft {draft_id} edited; sent to the DPO again for approval"
    finally:
        db.dispose()
    click.echo(message)
