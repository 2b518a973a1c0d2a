"""The `inbox-bot` command line: daemon, demo, classification, cases, suppression list, database.

Names and output shapes here are contracts (DESIGN.md, "Contracts"): keep them exactly.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from inbox_bot import config as config_mod
from inbox_bot.errors import InboxBotError, SenderError

log = logging.getLogger("inbox_bot")

class Context:
    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._settings = None

    def settings(self, *, optional: bool = False):
        if self._settings is None:
            try:
                self._settings = config_mod.load(self.config_path)
            except config_mod.ConfigError:
                if not optional or self.config_path:
                    raise
                self._settings = config_mod.from_dict({"organisation": dict(config_mod.DEFAULT_ORGANISATION)}, "<embedded defaults>")
        return self._settings

    def database(self, *, check: bool = True):
        from inbox_bot.database import Database

        return Database(self.settings().database.url, check=check)


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"inbox-bot: {message}", err=True)
    sys.exit(code)


class Group(click.Group):
    """Turns our own errors into one clear line and an exit code, not a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except config_mod.ConfigError as exc:
            _fail(f"configuration error: {exc}")
        except SenderError as exc:
            _fail(str(exc), 1)
        except InboxBotError as exc:
            _fail(str(exc))


@click.group(cls=Group)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Configuration file (default ./config.toml, then $INBOX_BOT_CONFIG).")
@click.option("--log-level", default="INFO", show_default=True)
@click.pass_context
def cli(ctx, config_path, log_level):
    """inbox-bot: the DPO mailbox assistant."""
    from inbox_bot import logs

    logs.setup(log_level.upper())
    ctx.obj = Context(config_path)


# -- daemon -------------------------------------------------------------------------------------
@cli.command()
@click.option("--once", is_flag=True, help="One fetch-and-process pass, deliver the outbox, exit.")
@click.pass_obj
def run(obj: Context, once: bool):
    """Run the daemon (or one pass with --once)."""
    from inbox_bot import scheduler

    settings = obj.settings()
    config_mod.require(settings, "mailbox", "smtp")
    db = obj.database()
    if once:
        from inbox_bot.runner import Runner

        runner = Runner(settings, db)
        try:
            report = runner.run_pass()
        finally:
            runner.close()
        p = report.passes
        click.echo(
            f"fetched {p.fetched}, new {p.recorded}, processed {p.count(status='processed')}, "
            f"quarantined {p.count(status='quarantined')}, retry {p.count(status='retry')}; "
            f"sent {report.delivery.sent}, deferred {report.delivery.deferred}, parked {report.delivery.parked}"
        )
        return
    scheduler.run_daemon(settings, db)


@cli.command()
@click.option("--keep", type=click.Path(file_okay=False), default=None, help="Keep the demo's files in this folder.")
def demo(keep):
    """The whole loop on embedded servers, with no configuration and no network."""
    from inbox_bot.demo import run_demo

    # The demo prints its own summary; the daemon's per-message log lines would bury it.
    if logging.getLogger().level < logging.WARNING:
        logging.getLogger().setLevel(logging.WARNING)
    run_demo(keep)


# -- classification -----------------------------------------------------------------------------
@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line per file.")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def classify(obj: Context, as_json: bool, files):
    """Screen and classify mail files (.eml, or plain text bodies)."""
    from inbox_bot.inspect import classify_files

    settings = obj.settings(optional=True)
    for result in classify_files(settings, [Path(f) for f in files]):
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
        else:
            labels = ",".join(result["labels"]) or "-"
            click.echo(f"{result['file']}: {result['screen']} {labels} ({result['language']}, {result['confidence']:.2f})")


@cli.command()
@click.pass_obj
def train(obj: Context):
    """Retrain the classifier on the shipped corpus and the DPO's relabelled cases."""
    from inbox_bot.training import train_with_relabels

    click.echo(train_with_relabels(obj.settings(optional=True)))


@cli.command()
@click.argument("path", type=click.Path(exists=True))
def evaluate(path):
    """Per-label precision, recall and F1 over a labelled folder or the shared request letters."""
    from classifiers.evaluate import evaluate_main

    click.echo(evaluate_main(path))


# -- cases --------------------------------------------------------------------------------------
@cli.group(cls=Group)
def cases():
    """Tracked cases."""


@cases.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--status", default=None, help="Only cases in this status.")
@click.pass_obj
def cases_list(obj: Context, as_json: bool, status):
    """List cases (with --json: one object per line, times in ISO 8601 UTC)."""
    from inbox_bot.views import case_rows

    db = obj.database()
    for row in case_rows(db, status=status):
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(f"{row['reference']}  {row['status']:<18} due {row['due_at'] or '-':<26} {','.join(row['labels'])}")


# -- suppression list ---------------------------------------------------------------------------
@cli.group(cls=Group)
def suppression():
    """The marketing suppression list."""


@suppression.command("check")
@click.argument("address")
@click.pass_obj
def suppression_check(obj: Context, address):
    from inbox_bot import suppression as sup

    db = obj.database()
    with db.session() as session:
        found = sup.is_suppressed(session, address)
    click.echo("suppressed" if found else "not suppressed")
    sys.exit(0 if found else 1)


@suppression.command("add")
@click.argument("address")
@click.option("--reason", default="marketing_optout", show_default=True)
@click.pass_obj
def suppression_add(obj: Context, address, reason):
    from inbox_bot import suppression as sup

    with obj.database().transaction() as session:
        added = sup.add(session, address, reason=reason, source="cli")
    click.echo("added" if added else "already suppressed")


@suppression.command("remove")
@click.argument("address")
@click.pass_obj
def suppression_remove(obj: Context, address):
    from inbox_bot import suppression as sup

    with obj.database().transaction() as session:
        removed = sup.remove(session, address)
    click.echo("removed" if removed else "not on the list")
    sys.exit(0 if removed else 1)


@suppression.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to a file instead of stdout.")
@click.pass_obj
def suppression_export(obj: Context, output):
    from inbox_bot import suppression as sup

    with obj.database().session() as session:
        text = sup.export_csv(session)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


# -- database -----------------------------------------------------------------------------------
@cli.group(cls=Group)
def db():
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: Context):
    from inbox_bot.database import upgrade

    revision = upgrade(obj.settings().database.url)
    click.echo(f"database at revision {revision}")


# Command groups that live beside the modules they drive register themselves on import.
from inbox_bot import cli_extra  # noqa: E402,F401


def main() -> None:
    cli(prog_name="inbox-bot")
