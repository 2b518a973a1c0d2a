"""The daemon: APScheduler drives fetching, outbox delivery, the digest and retention; IDLE wakes it early.

The only module that imports APScheduler. SIGTERM and SIGINT set the stop flag: the pass in
hand finishes its current message, the scheduler shuts down waiting for it, and we exit 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler

from inbox_bot import deliver
from inbox_bot.config import Settings
from inbox_bot.database import Database
from inbox_bot.errors import MailboxUnavailable, SystemFault
from inbox_bot.runner import Runner

log = logging.getLogger(__name__)

DELIVERY_INTERVAL_SECONDS = 60


class Daemon:
    def __init__(self, settings: Settings, db: Database):
        self.settings = settings
        self.db = db
        self.stop = threading.Event()
        self.runner = Runner(settings, db, self.stop)
        self.scheduler = BackgroundScheduler(timezone=settings.organisation.timezone)
        self.unreachable_since: datetime | None = None
        self.alerted = False

    def _pass(self) -> None:
        if self.stop.is_set():
            return
        try:
            self.runner.run_pass()
            self.unreachable_since, self.alerted = None, False
        except MailboxUnavailable as exc:
            now = datetime.now(timezone.utc)
            self.unreachable_since = self.unreachable_since or now
            log.warning("mailbox unreachable since %s: %s", self.unreachable_since.isoformat(), type(exc).__name__)
            minutes = (now - self.unreachable_since).total_seconds() / 60
            if minutes >= self.settings.mailbox.unreachable_alert_minutes and not self.alerted:
                from inbox_bot.alerts import mailbox_unreachable

                mailbox_unreachable(self.settings, self.db, self.unreachable_since)
                self.alerted = True
                deliver.deliver_outbox(self.settings, self.db)
        except SystemFault:
            log.exception("pass failed; retrying at the next interval")

    def _deliver(self) -> None:
        if not self.stop.is_set():
            deliver.deliver_outbox(self.settings, self.db)

    def _idle_loop(self) -> None:
        """Watch the folder with IDLE on a second connection and wake the fetch job on new mail."""
        from inbox_bot.mailbox import Mailbox

        mb = None
        while not self.stop.is_set():
            try:
                if mb is None:
                    mb = Mailbox(self.settings.mailbox, self.settings.mailbox.secret())
                    mb.connect()
                    mb.select()
                if mb.idle_wait(min(5, self.settings.mailbox.idle_timeout)) and not self.stop.is_set():
                    self.scheduler.modify_job("pass", next_run_time=datetime.now(timezone.utc))
            except Exception:  # noqa: BLE001 - the poll job still runs; reconnect after a pause
                log.warning("IDLE connection lost; reconnecting")
                if mb is not None:
                    try:
                        mb.close()
                    except Exception:  # noqa: BLE001
                        pass
                mb = None
                self.stop.wait(5)
        if mb is not None:
            try:
                mb.close()
            except Exception:  # noqa: BLE001
                pass

    def add_jobs(self) -> None:
        s = self.settings
        now = datetime.now(timezone.utc)
        self.scheduler.add_job(self._pass, "interval", seconds=max(1, s.mailbox.poll_interval), id="pass",
                               max_instances=1, coalesce=True, next_run_time=now)
        self.scheduler.add_job(self._deliver, "interval", seconds=DELIVERY_INTERVAL_SECONDS, id="deliver",
                               max_instances=1, coalesce=True)
        from inbox_bot.retention import schedule_retention

        schedule_retention(self.scheduler, s, self.db)
        try:
            from inbox_bot.digest import schedule_digest
        except ImportError:
            return
        schedule_digest(self.scheduler, s, self.db)

    def run(self) -> None:
        def _signal(signum, _frame):
            log.info("signal %d: stopping after the message in hand", signum)
            self.stop.set()

        signal.signal(signal.SIGTERM, _signal)
        signal.signal(signal.SIGINT, _signal)
        self.add_jobs()
        self.scheduler.start()
        idle_thread = None
        if self.settings.mailbox.idle:
            idle_thread = threading.Thread(target=self._idle_loop, name="idle", daemon=True)
            idle_thread.start()
        log.info("inbox-bot running")
        self.stop.wait()
        self.scheduler.shutdown(wait=True)
        if idle_thread is not None:
            idle_thread.join(timeout=10)
        self.runner.close()
        log.info("inbox-bot stopped")


def run_daemon(settings: Settings, db: Database) -> None:
    Daemon(settings, db).run()
