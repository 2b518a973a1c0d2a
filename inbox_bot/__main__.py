"""`python -m inbox_bot` runs the command line."""

from inbox_bot.cli import main

main()
