"""The DPO mailbox over IMAP: fetch new mail by UID, mark it handled, append copies, wait for mail.

This is the only module that imports imapclient. Everything it hands out is a plain value
(`inbox_bot.values.FetchedMessage`); every failure of the server or the connection surfaces as
`inbox_bot.errors.MailboxUnavailable`, after a bounded number of reconnects with exponential
backoff. Logs carry UIDs and counts, never addresses or subjects.

How "handled" works, and why in this order (`Mailbox.mark_handled`):

1. The keyword ``$InboxBotDone`` is set on the message first. `pending_uids` never returns a
   message with that keyword, so once it is set the message is never processed again, whatever
   happens next.
2. Then the message leaves the folder: MOVE where the server has it (RFC 6851); else COPY,
   ``\\Deleted`` and UID EXPUNGE of exactly those UIDs where the server has UIDPLUS (RFC 4315);
   else it stays, flagged (a plain EXPUNGE would also remove mail other clients marked deleted).

A crash between 1 and 2 leaves a flagged message in the folder: it is not reprocessed, and
`finish_handled` (run at start-up) moves such leftovers on. The caller marks a message handled
only after its database commit (DESIGN.md, step 8), so a crash before step 1 merely refetches a
message the database already knows (unique on mailbox, UIDVALIDITY and UID).

Folder names use the server's hierarchy separator (`Mailbox.separator`). Dovecot with Maildir++
storage, the common set-up, uses "." — hence the default ``INBOX.Processed``.
"""

from __future__ import annotations

import imaplib
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import TypeVar

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

from inbox_bot.config import MailboxSettings
from inbox_bot.errors import MailboxUnavailable
from inbox_bot.values import FetchedMessage

log = logging.getLogger(__name__)

HANDLED_KEYWORD = "$InboxBotDone"

T = TypeVar("T")

# Errors that mean the connection is gone or unusable, so reconnecting may help. A plain
# IMAPClientError ("NO"/"BAD" answered to a command) is not among them: the connection is fine
# and repeating the command would get the same answer.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    imaplib.IMAP4.abort,
    OSError,  # includes socket.timeout, ConnectionResetError, ssl.SSLError
    EOFError,
)


def backoff_delays(attempts: int, base_delay: float, max_delay: float) -> list[float]:
    """The waits before each retry: base, 2*base, 4*base, ... capped at max_delay."""
    return [min(max_delay, base_delay * (2**i)) for i in range(max(0, attempts - 1))]


def with_reconnect(
    fn: Callable[[], T],
    reconnect: Callable[[], None],
    attempts: int = 5,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fn`; when the connection fails, wait, `reconnect()` and call again, `attempts` times in all.

    Raises MailboxUnavailable when every attempt failed. A failing `reconnect()` counts as a
    failed attempt, so a server that stays down costs at most the sum of the delays.
    """
    delays = backoff_delays(attempts, base_delay, max_delay)
    last: BaseException | None = None
    for attempt in range(attempts):
        if attempt:
            sleep(delays[attempt - 1])
            try:
                reconnect()
            except MailboxUnavailable as exc:
                last = exc
                log.warning("imap reconnect failed (attempt %d of %d)", attempt + 1, attempts)
                continue
        try:
            return fn()
        except CONNECTION_ERRORS as exc:
            last = exc
            log.warning("imap connection lost (attempt %d of %d): %s", attempt + 1, attempts, type(exc).__name__)
    raise MailboxUnavailable(f"IMAP server unreachable after {attempts} attempts: {last}") from last


def _tls_context(verify: bool, ca_file: str | None = None) -> ssl.SSLContext:
    # With a CA file only that CA is trusted: a server behind a company CA is verified, not
    # waved through with tls_verify = false.
    context = ssl.create_default_context(cafile=ca_file if verify else None)
    if not verify:
        # Only for servers with self-signed certificates on a trusted network; the default verifies.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _utc(value: datetime) -> datetime:
    # With normalise_times=False imapclient returns INTERNALDATE with the server's own offset;
    # a naive value (never expected) is taken as UTC rather than as this machine's local time.
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _batches(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), max(1, size)):
        yield list(items[start : start + max(1, size)])


def _no_wire_trace(client: imapclient.IMAPClient) -> None:
    """Switch off imaplib's trace of the protocol, which imapclient turns on for its DEBUG log.

    With it on, imaplib formats every line and literal it reads (the repr of each message's
    bytes, and of a whole FETCH response) for a logger that logs.setup keeps silent: a tenth of
    the processing process's time in a backlog went into strings no one read. And the trace is
    the mail itself, addresses and bodies, which our logs never carry, whatever the log level.
    """
    imap = getattr(client, "_imap", None)
    if imap is not None and hasattr(imap, "debug"):
        imap.debug = 0


class Mailbox:
    """A connection to the configured IMAP folder. Use as a context manager.

    `attempts`, `base_delay` and `max_delay` bound the reconnects after a dropped connection.
    """

    def __init__(
        self,
        settings: MailboxSettings,
        password: str | None = None,
        *,
        attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
    ) -> None:
        self.settings = settings
        self._password = settings.secret() if password is None else password
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._client: imapclient.IMAPClient | None = None
        self._selected = False
        self._want_selected = False  # survives a dropped connection: reconnect selects again
        self.uidvalidity: int | None = None
        self._keywords_allowed = True

    # -- connection ------------------------------------------------------------------------

    def __enter__(self) -> "Mailbox":
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def connect(self) -> None:
        """Open the connection and log in (one attempt; MailboxUnavailable on failure)."""
        self.close()
        self._connect_once()

    def _connect_once(self) -> None:
        self._drop()
        s = self.settings
        try:
            if s.security == "tls":
                context = _tls_context(s.tls_verify, s.tls_ca_file)
                client = imapclient.IMAPClient(s.host, port=s.port, ssl=True, ssl_context=context, timeout=s.timeout)
            else:
                client = imapclient.IMAPClient(s.host, port=s.port, ssl=False, timeout=s.timeout)
            _no_wire_trace(client)
            try:
                if s.security == "starttls":
                    # Never fall back to plain text: a server without STARTTLS is an error here.
                    client.starttls(_tls_context(s.tls_verify, s.tls_ca_file))
                client.normalise_times = False
                client.login(s.username, self._password)
            except BaseException:
                _quietly(client.shutdown)
                raise
        except LoginError as exc:
            raise MailboxUnavailable(f"IMAP login to {s.host}:{s.port} refused: {exc}") from exc
        except (IMAPClientError, *CONNECTION_ERRORS) as exc:
            raise MailboxUnavailable(f"cannot connect to IMAP server {s.host}:{s.port}: {exc}") from exc
        self._client = client
        self._selected = False
        log.info("imap connected security=%s", s.security)

    def close(self) -> None:
        self._drop()
        self._want_selected = False

    def _drop(self) -> None:
        """Forget a broken connection, but remember that a folder was selected."""
        client, self._client = self._client, None
        self._selected = False
        if client is not None:
            _quietly(client.logout)
            _quietly(client.shutdown)

    def _reconnect(self) -> None:
        """Connect again and, when a folder was selected, select it again."""
        old_validity = self.uidvalidity
        self._connect_once()
        if self._want_selected:
            try:
                self._select()
            except (IMAPClientError, *CONNECTION_ERRORS) as exc:
                raise MailboxUnavailable(f"IMAP select failed after reconnect: {exc}") from exc
            if old_validity is not None and self.uidvalidity != old_validity:
                log.warning("imap uidvalidity changed on reconnect old=%s new=%s", old_validity, self.uidvalidity)

    def _call(self, fn: Callable[[imapclient.IMAPClient], T]) -> T:
        """Run `fn(client)`, reconnecting with bounded backoff when the connection drops."""
        if self._client is None:
            self.connect()

        def attempt() -> T:
            if self._client is None:
                raise ConnectionError("not connected")
            try:
                return fn(self._client)
            except CONNECTION_ERRORS:
                self._drop()
                raise
            except IMAPClientError as exc:
                if "EOF" in str(exc) or "socket" in str(exc).lower():
                    self._drop()
                    raise ConnectionError(str(exc)) from exc
                raise MailboxUnavailable(f"IMAP server refused: {exc}") from exc

        return with_reconnect(attempt, self._reconnect, self.attempts, self.base_delay, self.max_delay)

    # -- folders ---------------------------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[str]:
        """The server's capabilities after login, upper-case (e.g. "MOVE", "IDLE", "UIDPLUS")."""
        caps = self._call(lambda c: c.capabilities())
        return frozenset(c.decode("ascii", "replace").upper() if isinstance(c, bytes) else str(c).upper() for c in caps)

    def has(self, capability: str) -> bool:
        return capability.upper() in self.capabilities

    @property
    def separator(self) -> str:
        """The hierarchy separator of the personal namespace ("." for Dovecot with Maildir++)."""

        def find(c: imapclient.IMAPClient) -> str:
            if c.has_capability("NAMESPACE"):
                personal = c.namespace().personal
                if personal and personal[0][1]:
                    return personal[0][1]
            folders = c.list_folders(directory="", pattern="")
            return folders[0][1].decode() if folders and folders[0][1] else "."

        sep = self._call(find)
        return sep.decode() if isinstance(sep, bytes) else sep

    def ensure_folders(self, *names: str | None) -> list[str]:
        """Create each named folder that does not exist yet (and subscribe it); return those created."""
        created: list[str] = []

        def run(c: imapclient.IMAPClient) -> None:
            for name in names:
                if not name or name in created or c.folder_exists(name):
                    continue
                try:
                    c.create_folder(name)
                except IMAPClientError:
                    # Another client may have created it in the meantime; only then is it fine.
                    if not c.folder_exists(name):
                        raise
                _quietly(lambda: c.subscribe_folder(name))
                created.append(name)

        self._call(run)
        if created:
            log.info("imap created folders count=%d", len(created))
        return created

    def _select(self) -> int:
        info = self._client.select_folder(self.settings.folder)
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        permanent = info.get(b"PERMANENTFLAGS", ())
        # Without "\*" in PERMANENTFLAGS the server cannot store a new keyword; handled mail is
        # then recognised by leaving the folder alone (and by the database's unique key).
        self._keywords_allowed = b"\\*" in permanent or HANDLED_KEYWORD.encode() in permanent
        self._selected = self._want_selected = True
        return self.uidvalidity

    def select(self) -> int:
        """Select the configured folder (read-write); return its UIDVALIDITY."""

        def run(c: imapclient.IMAPClient) -> int:
            return self._select()

        validity = self._call(run)
        log.debug("imap selected uidvalidity=%d", validity)
        return validity

    def _ensure_selected(self) -> None:
        if not self._selected:
            self.select()

    # -- reading ---------------------------------------------------------------------------

    def pending_uids(self) -> list[int]:
        """UIDs in the folder that are neither handled nor deleted, oldest first."""
        self._ensure_selected()
        criteria = ["NOT", "DELETED"]
        if self._keywords_allowed:
            criteria = ["UNKEYWORD", HANDLED_KEYWORD, *criteria]
        uids = sorted(self._call(lambda c: c.search(criteria)))
        log.debug("imap pending count=%d", len(uids))
        return uids

    def handled_uids(self) -> list[int]:
        """UIDs still in the folder that carry the handled keyword (left behind by a crash)."""
        self._ensure_selected()
        if not self._keywords_allowed:
            return []
        return sorted(self._call(lambda c: c.search(["KEYWORD", HANDLED_KEYWORD, "NOT", "DELETED"])))

    def fetch(self, uids: Iterable[int], batch_size: int | None = None) -> Iterator[FetchedMessage]:
        """Yield the messages with these UIDs, `batch_size` per FETCH, so memory stays flat.

        BODY.PEEK[] leaves the \\Seen flag alone: the DPO still sees the mail as unread. A UID
        that no longer exists (expunged meanwhile) is skipped. MailboxUnavailable when the
        folder's UIDVALIDITY changes under us: the UIDs asked for no longer mean those messages.
        """
        self._ensure_selected()
        validity = self.uidvalidity
        size = batch_size or self.settings.batch_size
        for batch in _batches(sorted(set(uids)), size):
            response = self._call(lambda c: c.fetch(batch, ["BODY.PEEK[]", "INTERNALDATE"]))
            if self.uidvalidity != validity:
                raise MailboxUnavailable("UIDVALIDITY changed during fetch; fetch again from pending_uids()")
            missing = 0
            for uid in batch:
                data = response.get(uid)
                if data is None or b"BODY[]" not in data:
                    missing += 1
                    continue
                yield FetchedMessage(
                    mailbox=self.settings.folder,
                    uidvalidity=validity,
                    uid=uid,
                    raw=bytes(data[b"BODY[]"]),
                    internaldate=_utc(data[b"INTERNALDATE"]),
                )
            log.debug("imap fetched batch count=%d missing=%d", len(batch) - missing, missing)
            del response

    # -- writing ---------------------------------------------------------------------------

    def mark_handled(self, uids: Sequence[int], move_to: str | None = None, *, uidvalidity: int | None = None) -> str:
        """Mark messages handled and move them to `move_to` (see the module docstring).

        Returns how they were handled: "moved", "copied" (COPY + expunge), "flagged". When
        `uidvalidity` is given and the folder's differs, nothing is touched (MailboxUnavailable).
        """
        uids = sorted(set(uids))
        if not uids:
            return "none"
        self._ensure_selected()
        if uidvalidity is not None and uidvalidity != self.uidvalidity:
            raise MailboxUnavailable("UIDVALIDITY changed: refusing to mark UIDs of another folder generation")
        if self._keywords_allowed:
            self._call(lambda c: c.add_flags(uids, [HANDLED_KEYWORD], silent=True))
        how = "flagged"
        if move_to:
            how = self._move(uids, move_to)
        log.info("imap handled count=%d how=%s uids=%s", len(uids), how, _uid_summary(uids))
        return how

    def _move(self, uids: list[int], folder: str) -> str:
        caps = self.capabilities
        if "MOVE" in caps:
            self._call(lambda c: c.move(uids, folder))
            return "moved"
        if "UIDPLUS" in caps:
            # A repeat after a dropped connection may copy twice; a duplicate in the processed
            # folder is harmless, a lost message is not.
            def copy_delete(c: imapclient.IMAPClient) -> None:
                c.copy(uids, folder)
                c.add_flags(uids, [imapclient.DELETED], silent=True)
                c.uid_expunge(uids)

            self._call(copy_delete)
            return "copied"
        return "flagged"

    def finish_handled(self, move_to: str | None) -> int:
        """Move on messages a crash left flagged but unmoved; return how many."""
        if not move_to:
            return 0
        leftovers = self.handled_uids()
        if leftovers and self._move(leftovers, move_to) != "flagged":
            log.info("imap finished leftovers count=%d", len(leftovers))
            return len(leftovers)
        return 0

    def append(
        self, folder: str, raw: bytes, flags: Sequence[str] = (r"\Seen",), when: datetime | None = None
    ) -> int | None:
        """Append a message to `folder` (e.g. the Sent copy); return its UID when the server says.

        `when` becomes the INTERNALDATE; a naive value is taken as UTC.
        """
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        response = self._call(lambda c: c.append(folder, raw, flags=tuple(flags), msg_time=when))
        text = response.decode("ascii", "replace") if isinstance(response, bytes) else str(response)
        if "APPENDUID" in text:
            try:
                return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])
            except (IndexError, ValueError):
                return None
        return None

    def append_many(self, folder: str, raws: Sequence[bytes], flags: Sequence[str] = (r"\Seen",)) -> None:
        """Append several messages in one command (RFC 3502 MULTIAPPEND) where the server can.

        One round trip for the lot: a backlog's Sent copies one APPEND at a time took as long
        as delivering them. Without MULTIAPPEND, one APPEND each. A reconnect repeats the lot.
        """
        if not raws:
            return
        if not self.has("MULTIAPPEND"):
            for raw in raws:
                self.append(folder, raw, flags)
            return
        messages = [{"msg": raw, "flags": tuple(flags)} for raw in raws]
        self._call(lambda c: c.multiappend(folder, messages))

    # -- waiting ---------------------------------------------------------------------------

    def noop(self) -> bool:
        """Keep the connection alive; True when the server reports new mail."""
        response = self._call(lambda c: c.noop())
        return _has_new_mail(response[1] if isinstance(response, tuple) else [])

    def idle_wait(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` seconds for new mail; True when some arrived.

        Uses IDLE (RFC 2177) when configured and the server has it; otherwise sleeps for the
        poll interval (or `timeout`, if shorter) and asks with NOOP.
        """
        timeout = self.settings.idle_timeout if timeout is None else timeout
        self._ensure_selected()
        if not (self.settings.idle and self.has("IDLE")):
            time.sleep(max(0.0, min(timeout, self.settings.poll_interval)))
            return self.noop()
        return self._call(lambda c: _idle(c, timeout))


def _idle(client: imapclient.IMAPClient, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    client.idle()
    arrived = False
    try:
        while not arrived:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            responses = client.idle_check(timeout=remaining)
            arrived = _has_new_mail(responses)
            if responses and any(r == (b"BYE",) or (r and r[0] == b"BYE") for r in responses):
                raise ConnectionError("server said BYE during IDLE")
    finally:
        # DONE both ends IDLE and proves the connection still works: on a connection the
        # server dropped during IDLE this raises, and _call reconnects.
        done = client.idle_done()
    return arrived or _has_new_mail(done[1] if isinstance(done, tuple) else [])


def _has_new_mail(responses: Iterable) -> bool:
    for response in responses or ():
        if isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT"):
            if response[1] == b"EXISTS" or (isinstance(response[0], int) and response[0] > 0):
                return True
    return False


def _uid_summary(uids: Sequence[int], limit: int = 20) -> str:
    shown = ",".join(str(u) for u in uids[:limit])
    return shown + (f",...(+{len(uids) - limit})" if len(uids) > limit else "")


def _quietly(fn: Callable[[], object]) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail in many ways
        pass


__all__ = [
    "HANDLED_KEYWORD",
    "Mailbox",
    "backoff_delays",
    "with_reconnect",
]
