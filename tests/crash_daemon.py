"""A small daemon for the crash test: `python tests/crash_daemon.py CONFIG` runs passes in a loop.

It is what `inbox-bot run` does without APScheduler's start-up time: load the settings, open the
database, load the classifier, print "ready" (so the test kills it while it works, not while
Python imports), then call Runner.run_pass() over and over. Every pass fetches, records,
processes, moves, delivers and copies to Sent: a SIGKILL can land in any of those steps.
With --until-idle it exits 0 once a pass finds nothing to fetch and nothing left to send.
"""

from __future__ import annotations

import sys
import time

from sqlalchemy import func, select

from inbox_bot import classify, config, logs
from inbox_bot.database import Database
from inbox_bot.runner import Runner
from inbox_bot.schema import Message, OutboxRow


def main(argv: list[str]) -> int:
    settings = config.load(argv[1])
    until_idle = "--until-idle" in argv
    logs.setup("WARNING")
    db = Database(settings.database.url)
    classify.model(settings)
    runner = Runner(settings, db)
    print("ready", flush=True)
    while True:
        report = runner.run_pass()
        if until_idle and report.passes.fetched == 0:
            with db.session() as session:
                queued = session.execute(
                    select(func.count(OutboxRow.id)).where(OutboxRow.status == "queued")
                ).scalar_one()
                new = session.execute(select(func.count(Message.id)).where(Message.status == "new")).scalar_one()
            if queued == 0 and new == 0:
                runner.close()
                return 0
        time.sleep(0.02)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
