"""Registers the command modules that extend `inbox-bot` (cases, digest, drafts, quarantine, …).

Each command module imports the groups it extends from inbox_bot.cli and adds its commands;
importing them here keeps cli.py short and each module beside the code it drives.
"""

from inbox_bot import cli_drafts, cli_lifecycle, cli_quarantine  # noqa: F401
