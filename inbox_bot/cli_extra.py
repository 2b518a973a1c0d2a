"""Registers the command modules that extend `inbox-bot` (cases, digest, drafts, quarantine, …).

Each command module imports the groups it extends from inbox_bot.cli and adds its commands;
listing them here keeps cli.py short and each module self-contained.
"""

import importlib

for _name in ("cli_lifecycle", "cli_drafts", "cli_quarantine"):
    try:
        importlib.import_module(f"inbox_bot.{_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"inbox_bot.{_name}":
            raise
