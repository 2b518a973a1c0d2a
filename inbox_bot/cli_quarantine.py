"""`inbox-bot quarantine list|show|retry|release`: the DPO's view of messages parked as unprocessable.

Registered on `inbox-bot` by inbox_bot.cli_extra. Output goes to the terminal of the DPO who
asked; nothing is logged but record ids. `show` prints the error and the header block, never
the body; `show --save FILE` writes the raw message to an owner-only file for a closer look.
"""

from __future__ import annotations

import json
import os

import click

from inbox_bot.cli import Context, Group, cli


@cli.group(cls=Group)
def quarantine():
    """Messages that could not be processed."""


@quarantine.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def quarantine_list(obj: Context, as_json: bool):
    """List quarantined messages, oldest first."""
    from inbox_bot import quarantine as q

    tz = obj.settings().organisation.tz
    items = q.entries(obj.database())
    for e in items:
        if as_json:
            click.echo(json.dumps({
                "id": e.id, "received_at": e.received_at.isoformat(), "size": e.size, "attempts": e.attempts,
                "error": e.error, "from": e.sender, "subject": e.subject,
            }, ensure_ascii=False))
        else:
            click.echo(f"#{e.id}  {e.received_at.astimezone(tz):%Y-%m-%d %H:%M}  {e.size} B  "
                       f"{e.attempts} attempt(s)  {e.error}")
    if not items and not as_json:
        click.echo("quarantine is empty")


@quarantine.command("show")
@click.argument("message_id", type=int)
@click.option("--save", type=click.Path(dir_okay=False), default=None,
              help="Write the raw message to this file (created readable by you only).")
@click.pass_obj
def quarantine_show(obj: Context, message_id: int, save: str | None):
    """Show a quarantined message's error and header block."""
    from inbox_bot import quarantine as q

    db = obj.database()
    d = q.detail(db, message_id)
    tz = obj.settings().organisation.tz
    click.echo(f"message #{d.entry.id}, received {d.entry.received_at.astimezone(tz):%Y-%m-%d %H:%M %Z}, "
               f"{d.entry.size} bytes, {d.entry.attempts} attempt(s)")
    click.echo("error:")
    for line in (d.error or "-").splitlines():
        click.echo(f"  {line}")
    click.echo("headers:")
    for name, value in d.headers:
        # Control characters in a header would otherwise drive the DPO's terminal.
        clean = "".join(ch if ch.isprintable() else " " for ch in value)
        click.echo(f"  {name}: {clean}")
    if save:
        fd = os.open(save, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(q.raw_bytes(db, message_id))
        click.echo(f"raw message written to {save}")


@quarantine.command("retry")
@click.argument("message_ids", type=int, nargs=-1, required=True)
@click.pass_obj
def quarantine_retry(obj: Context, message_ids: tuple[int, ...]):
    """Process these messages again at the next pass."""
    from inbox_bot import quarantine as q

    db = obj.database()
    for message_id in message_ids:
        q.retry(db, message_id)
        click.echo(f"#{message_id} will be processed again at the next pass")


@quarantine.command("release")
@click.argument("message_ids", type=int, nargs=-1, required=True)
@click.option("--note", default=None, help="What was done with it, kept with the record.")
@click.pass_obj
def quarantine_release(obj: Context, message_ids: tuple[int, ...], note: str | None):
    """Mark these messages as handled by hand."""
    from inbox_bot import quarantine as q

    db = obj.database()
    for message_id in message_ids:
        q.release(db, message_id, note)
        click.echo(f"#{message_id} released")
