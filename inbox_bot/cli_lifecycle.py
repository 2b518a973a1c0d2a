"""Commands for the case lifecycle: show, extend, relabel and move cases; digest; retention; register.

Registered on `inbox-bot` by inbox_bot.cli_extra. Each command is one transaction; refusals
(unknown case, a transition the lifecycle forbids) are InboxBotErrors, printed as one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from inbox_bot.cli import Context, Group, cases, cli
from inbox_bot.errors import InboxBotError


class UnknownCase(InboxBotError):
    """No case has this reference."""


def _case(session, reference: str):
    from inbox_bot import cases as cases_mod

    case = cases_mod.by_reference(session, reference)
    if case is None:
        raise UnknownCase(f"no case {reference}")
    return case


def timeline_lines(settings, case) -> list[str]:
    """The case's history as lines of local time, actor, what happened and why."""
    tz = settings.organisation.tz
    due = case.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if case.due_at else "-"
    lines = [
        f"{case.reference}  {case.status}  {', '.join(case.labels or []) or '-'}",
        f"received {case.received_at.astimezone(tz):%Y-%m-%d %H:%M}  due {due}"
        + ("  (extended)" if case.extended else "")
        + ("  [clock paused]" if case.paused_since else ""),
    ]
    if case.breach_due_at:
        lines.append(f"breach assessment due {case.breach_due_at.astimezone(tz):%Y-%m-%d %H:%M}")
    if case.flags:
        lines.append("flags: " + ", ".join(case.flags))
    lines.append("")
    for event in case.events:
        what = event.kind
        if event.from_status or event.to_status:
            what += f" {event.from_status or ''} -> {event.to_status or ''}".rstrip()
        extra = {k: v for k, v in (event.detail or {}).items() if k != "why"}
        why = (event.detail or {}).get("why")
        line = f"{event.at.astimezone(tz):%Y-%m-%d %H:%M}  {event.actor:<12}  {what}"
        if why:
            line += f"  ({why})"
        if extra:
            line += "  " + json.dumps(extra, ensure_ascii=False, sort_keys=True)
        lines.append(line)
    return lines


@cases.command("show")
@click.argument("reference")
@click.pass_obj
def cases_show(obj: Context, reference):
    """Print a case and its timeline in local time."""
    settings = obj.settings()
    with obj.database().session() as session:
        case = _case(session, reference)
        click.echo("\n".join(timeline_lines(settings, case)))


@cases.command("extend")
@click.argument("reference")
@click.option("--reason", required=True, help="Why the two further months are needed (told to the requester).")
@click.option("--by", "actor", default="dpo", show_default=True)
@click.pass_obj
def cases_extend(obj: Context, reference, reason, actor):
    """Extend the deadline by two months and draft the notice to the requester."""
    from inbox_bot import clocks
    from inbox_bot.schema import utcnow

    settings = obj.settings()
    with obj.database().transaction() as session:
        case = _case(session, reference)
        draft = clocks.extend(session, settings, case, reason, utcnow(), actor=actor)
        due = case.due_at.astimezone(settings.organisation.tz)
        draft_id = draft.id
    click.echo(f"{reference.upper()} extended: due {due:%Y-%m-%d}; extension notice draft #{draft_id} awaits approval")


@cases.command("relabel")
@click.argument("reference")
@click.argument("labels", nargs=-1, required=True)
@click.option("--by", "actor", default="dpo", show_default=True)
@click.pass_obj
def cases_relabel(obj: Context, reference, labels, actor):
    """Correct a case's request types (the classifier learns from it at the next `train`)."""
    from inbox_bot import lifecycle
    from inbox_bot.schema import utcnow

    settings = obj.settings()
    with obj.database().transaction() as session:
        case = _case(session, reference)
        lifecycle.relabel(session, settings, case, list(labels), utcnow(), actor=actor)
        status = case.status
    click.echo(f"{reference.upper()} relabelled: {', '.join(labels)} ({status})")


@cases.command("verify")
@click.argument("reference")
@click.option("--by", "actor", default="dpo", show_default=True)
@click.pass_obj
def cases_verify(obj: Context, reference, actor):
    """Record that the requester's identity is confirmed, and draft the substantive replies."""
    from inbox_bot import drafts, identity
    from inbox_bot.schema import utcnow

    settings = obj.settings()
    with obj.database().transaction() as session:
        case = _case(session, reference)
        now = utcnow()
        identity.verified(session, case, now, actor=actor)
        if case.status == "awaiting_identity":
            from inbox_bot import clocks

            clocks.resume(session, settings, case, now, why="identity confirmed by the DPO")
            from inbox_bot import cases as cases_mod

            cases_mod.transition(session, case, "in_progress", actor=actor, why="identity confirmed", at=now)
        created = drafts.drafts_for_new_case(session, settings, case, now)
        kinds = [d.kind for d in created]
    click.echo(f"{reference.upper()}: identity confirmed; drafts: {', '.join(kinds) or 'none new'}")


@cases.command("transition")
@click.argument("reference")
@click.argument("status")
@click.option("--why", required=True, help="Recorded in the case's history.")
@click.option("--by", "actor", default="dpo", show_default=True)
@click.pass_obj
def cases_transition(obj: Context, reference, status, why, actor):
    """Move a case to STATUS (closed, rejected, withdrawn, answered, in_progress, ...)."""
    from inbox_bot import cases as cases_mod
    from inbox_bot.schema import utcnow

    with obj.database().transaction() as session:
        case = _case(session, reference)
        previous = case.status
        cases_mod.transition(session, case, status, actor=actor, why=why, at=utcnow())
    click.echo(f"{reference.upper()}: {previous} -> {status}")


@cli.command("digest")
@click.option("--print", "print_only", is_flag=True, help="Show the digest without sending it.")
@click.option("--html", is_flag=True, help="With --print: the HTML body instead of the text.")
@click.pass_obj
def digest_command(obj: Context, print_only, html):
    """The DPO's digest of running clocks: print it, or send it now."""
    from inbox_bot import digest as digest_mod
    from inbox_bot.schema import utcnow

    settings = obj.settings()
    db = obj.database()
    now = utcnow()
    if print_only:
        with db.session() as session:
            built = digest_mod.build_digest(session, settings, now)
        rendered = digest_mod.render_digest(settings, built)
        click.echo(rendered.subject)
        click.echo("")
        click.echo(rendered.html if html and rendered.html else rendered.text, nl=False)
        return
    queued = digest_mod.send_digest(settings, db, now)
    click.echo(f"digest queued for {queued} addresses" if queued else "digest empty: nothing sent")


@cli.command("retention")
@click.option("--dry-run", is_flag=True, help="List what would go; change nothing.")
@click.pass_obj
def retention_command(obj: Context, dry_run):
    """Purge or anonymise closed cases past the retention period; clear old mail without a case."""
    from inbox_bot import retention

    settings = obj.settings()
    plan, uncased = retention.run(settings, obj.database(), dry_run=dry_run)
    for item in plan:
        click.echo(f"{item.reference}  closed {item.closed_at:%Y-%m-%d}  {item.action}  "
                   f"messages {len(item.messages)}  outgoing {len(item.outgoing)}  drafts {len(item.drafts)}")
    verb = "would be" if dry_run else "were"
    click.echo(f"{len(plan)} cases {verb} {settings.retention.mode}d")
    click.echo(f"{len(uncased)} messages without a case {verb} cleared")


@cli.group(cls=Group)
def register():
    """The accountability register of cases."""


@register.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to a file instead of stdout.")
@click.pass_obj
def register_export(obj: Context, output):
    from inbox_bot.register import export_csv

    settings = obj.settings()
    with obj.database().session() as session:
        text = export_csv(session, settings)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
