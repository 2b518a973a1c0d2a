"""Embedded mail servers and sample mail for `inbox-bot demo`: no configuration, no network.

`EmbeddedImap` serves one in-memory mailbox (pymap's dict backend) and `EmbeddedSmtpSink`
keeps every message handed to it (aiosmtpd); both listen on a free loopback port and run in a
background thread with their own event loop, so the synchronous daemon talks to them exactly
as it talks to Dovecot and a real MTA. `seed_mailbox` appends mail with chosen INTERNALDATEs
and `sample_messages` returns the demo's dozen requests and robots (inbox_bot/demo_data).

These are for the demo and for tests; nothing here is meant to face a real network.
"""

from __future__ import annotations

import asyncio
import imaplib
import secrets
import socket
import threading
from argparse import Namespace
from collections.abc import Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib.resources import files
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from proxyprotocol.reader import ProxyProtocolReader
from pymap.backend.dict import Config as DictConfig
from pymap.backend.dict import DictBackend, Login
from pymap.backend.dict.filter import FilterSet
from pymap.backend.dict.mailbox import MailboxData, MailboxSet
from pymap.concurrent import Subsystem
from pymap.imap import IMAPServer
from pymap.parsing.specials.flag import Wildcard
from pymap.user import Passwords, UserMetadata
from pysasl.hashing import BuiltinHash

__all__ = [
    "EmbeddedImap",
    "EmbeddedSmtpSink",
    "SinkMessage",
    "sample_messages",
    "seed_mailbox",
    "spread_over_last_days",
]

LOOPBACK = "127.0.0.1"
DEFAULT_USER = "iodo@optingo.eu"

# How long start() waits for a server thread before giving up; both start in well under a
# second, so hitting this means the thread died, and we say so instead of hanging the demo.
_START_TIMEOUT = 10.0


# --------------------------------------------------------------------------------------------
# IMAP


class _KeywordMailboxData(MailboxData):
    """A dict-backend mailbox that keeps keyword flags, as Dovecot does.

    pymap's dict mailboxes only accept the system flags and drop any other flag from a STORE
    without an error, so a client that marks handled mail with a keyword (the fallback when
    MOVE is missing) would find the mark gone and process the message again.
    """

    @property
    def permanent_flags(self) -> frozenset[Any]:
        return super().permanent_flags | {Wildcard}


class _KeywordMailboxSet(MailboxSet):
    """The user's folders, every one of them a `_KeywordMailboxData`."""

    def __init__(self) -> None:
        super().__init__()
        self._inbox = _KeywordMailboxData(self._content_cache, self._thread_cache)

    async def add_mailbox(self, name: str) -> Any:
        # pymap's own add_mailbox, with our mailbox class. (RENAME of INBOX would still make
        # a plain mailbox for the new INBOX; nothing in inbox-bot renames INBOX.)
        async with self._set_lock.read_lock():
            if name in self._set:
                raise ValueError(name)
        async with self._set_lock.write_lock():
            self._set[name] = mailbox = _KeywordMailboxData(
                self._content_cache, self._thread_cache
            )
            return mailbox.mailbox_id


class _EmbeddedConfig(DictConfig):
    """pymap settings for a loopback-only server with nothing to look up."""

    def __init__(self, *args: Any, advertise_move: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._advertise_move = advertise_move

    @property
    def greeting(self) -> bytes:
        # The stock greeting calls socket.getfqdn(), a DNS lookup that can stall for seconds
        # on a machine without network.
        return b"Server ready inbox-bot embedded IMAP"

    @property
    def login_capability(self) -> Sequence[bytes]:
        caps = list(super().login_capability)
        if not self._advertise_move:
            caps.remove(b"MOVE")
        return caps


class _WholeResponseWriter:
    """A StreamWriter stand-in that sends each IMAP response in one piece.

    pymap writes a FETCH response in three writes ("* 1 FETCH ", the items, CRLF), and asyncio
    sends each at once. imapclient's idle_check reads from a non-blocking socket and aborts the
    connection on a line without its CRLF ("unterminated line"), which happened under load.
    pymap calls drain() after every response, so buffering until then is enough.
    """

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._buffer = bytearray()

    def write(self, data: bytes) -> None:
        self._buffer += data

    async def drain(self) -> None:
        self._flush()
        await self._writer.drain()

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def _flush(self) -> None:
        if self._buffer and not self._writer.is_closing():
            self._writer.write(bytes(self._buffer))
        self._buffer.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


class EmbeddedImap:
    """An in-memory IMAP server for one user on a free loopback port, plain text, no TLS.

    Use as a context manager or call `start()` and `stop()`. The mailbox starts empty (only
    INBOX); it lives as long as the server. Offers IDLE, MOVE, UIDPLUS; `advertise_move=False`
    hides MOVE from CAPABILITY so that a client's fallback to flagging can be exercised.
    Folder separator "/". Keyword flags are kept.
    """

    def __init__(
        self,
        username: str = DEFAULT_USER,
        password: str | None = None,
        *,
        advertise_move: bool = True,
    ) -> None:
        self.host = LOOPBACK
        self.port = 0
        self.username = username
        self.password = password if password is not None else secrets.token_urlsafe(16)
        self._advertise_move = advertise_move
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def __enter__(self) -> EmbeddedImap:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> EmbeddedImap:
        """Start serving; returns once the port accepts connections."""
        if self._thread is not None:
            raise RuntimeError("embedded IMAP server already running")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="embedded-imap", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("embedded IMAP server did not start in time")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise RuntimeError("embedded IMAP server failed to start") from self._error
        return self

    def stop(self) -> None:
        """Close the port and every open session, and end the server thread."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop_event is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        self._thread.join()
        self._thread = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
        finally:
            self._ready.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._loop = None

    async def _serve(self) -> None:
        self._stop_event = asyncio.Event()
        args = Namespace(passlib_cfg=None, proxy_protocol=None, inherited_sockets=None)
        config = _EmbeddedConfig(
            args,
            host=self.host,
            port=0,
            tls_enabled=False,
            # Password checks run on the event loop: a thread pool per server would only
            # add threads to clean up, and a demo has one client.
            cpu_subsystem=Subsystem.for_asyncio(),
            invalid_user_sleep=0.0,
            # The stock hash (PBKDF2, 500,000 rounds) costs a quarter of a second per login;
            # the password is random, lives in memory and guards a loopback port for minutes,
            # so slow hashing protects nothing and would only slow every demo and test login.
            hash_context=BuiltinHash(rounds=1000),
            demo_data=False,
            demo_user=self.username,
            demo_password=self.password,
            advertise_move=self._advertise_move,
        )
        config.apply_context()
        login = Login(config)
        backend = DictBackend(login, config)
        hashed = await Passwords(config).hash_password(self.password)
        await login.demo_user_identity.set(UserMetadata(config, self.username, password=hashed))
        # Put our own folder set in the per-user cache before anyone logs in, so the session
        # uses mailboxes that keep keyword flags.
        config.set_cache[self.username] = (_KeywordMailboxSet(), FilterSet())

        async with AsyncExitStack() as stack:
            await backend.start(stack)
            sessions_handler = IMAPServer(backend.login, config)

            async def whole_responses(reader: Any, writer: Any, sock_info: Any) -> None:
                await sessions_handler(reader, _WholeResponseWriter(writer), sock_info)

            imap_server = ProxyProtocolReader(config.proxy_protocol).get_callback(
                whole_responses
            )
            # Port 0: the kernel picks a free port, so parallel test runs never collide.
            server = await asyncio.start_server(imap_server, host=self.host, port=0)
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop_event.wait()
            server.close()
            # Sessions still open (a client that never logged out) would otherwise keep the
            # loop alive; cancelling them closes their sockets.
            current = asyncio.current_task()
            sessions = [t for t in asyncio.all_tasks() if t is not current]
            for task in sessions:
                task.cancel()
            await asyncio.gather(*sessions, return_exceptions=True)
            await server.wait_closed()


# --------------------------------------------------------------------------------------------
# SMTP


@dataclass(frozen=True)
class SinkMessage:
    """One message as the sink received it: the SMTP envelope and the raw bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes


class _KeepEverything:
    """aiosmtpd handler that accepts every message and keeps it in memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: list[SinkMessage] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        message = SinkMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(content),
        )
        with self._lock:
            self.received.append(message)
        return "250 Message accepted for delivery"


class _BoundController(Controller):
    """An aiosmtpd Controller that serves on a socket we have already bound.

    The stock Controller needs its port up front; binding port 0 ourselves and handing over
    the socket avoids the race of probing for a free port and binding it later.
    """

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self._sock = sock

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


class EmbeddedSmtpSink:
    """An SMTP server on a free loopback port that accepts everything and delivers nothing.

    No AUTH, no TLS. `messages()` returns what arrived so far, in order of arrival.
    """

    def __init__(self) -> None:
        self.host = LOOPBACK
        self.port = 0
        self._handler = _KeepEverything()
        self._controller: _BoundController | None = None

    def __enter__(self) -> EmbeddedSmtpSink:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> EmbeddedSmtpSink:
        """Start serving; returns once the port answers with its greeting."""
        if self._controller is not None:
            raise RuntimeError("embedded SMTP sink already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((LOOPBACK, 0))
            self.port = sock.getsockname()[1]
            # server_hostname: without it aiosmtpd calls socket.getfqdn(), a DNS lookup.
            controller = _BoundController(
                self._handler, sock, server_hostname="localhost", ready_timeout=_START_TIMEOUT
            )
            controller.start()
        except BaseException:
            sock.close()
            raise
        self._controller = controller
        return self

    def stop(self) -> None:
        """Close the port and end the server thread; received messages stay readable."""
        if self._controller is None:
            return
        self._controller.stop()
        self._controller = None

    def messages(self) -> list[SinkMessage]:
        """Every message received so far, oldest first."""
        with self._handler._lock:
            return list(self._handler.received)


# --------------------------------------------------------------------------------------------
# Sample mail


def sample_messages() -> list[tuple[str, bytes]]:
    """The demo's sample messages as (file name, raw bytes), in file-name order."""
    folder = files("inbox_bot").joinpath("demo_data")
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".eml"))
    return [(name, folder.joinpath(name).read_bytes()) for name in names]


def spread_over_last_days(count: int, now: datetime | None = None) -> list[datetime]:
    """`count` times of receipt, oldest first, spread over the days before `now` (UTC).

    About eleven hours apart, so a dozen messages span five days and their deadlines differ;
    the odd minutes keep them from looking machine-made in a listing.
    """
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    return [
        now - timedelta(hours=11 * (count - 1 - i), minutes=(17 * i) % 60 + 1)
        for i in range(count)
    ]


def seed_mailbox(
    host: str,
    port: int,
    user: str,
    password: str,
    messages: Iterable[bytes],
    *,
    folder: str = "INBOX",
    received_at: Sequence[datetime] | None = None,
) -> list[int]:
    """APPEND each message to `folder` over plain IMAP; return the UIDs the server gave them.

    Each message gets an INTERNALDATE, the legal time of receipt: `received_at[i]` when given
    (timezone-aware), otherwise times spread over the last days, oldest first, so that UID
    order is arrival order. Uses the standard library's imaplib: this is a test and demo
    helper, and the daemon's own IMAP client stays in the mailbox module.
    """
    raw = [bytes(m) for m in messages]
    dates = list(received_at) if received_at is not None else spread_over_last_days(len(raw))
    if len(dates) != len(raw):
        raise ValueError(f"{len(raw)} messages but {len(dates)} times of receipt")
    if any(d.tzinfo is None for d in dates):
        raise ValueError("times of receipt must be timezone-aware")
    uids: list[int] = []
    client = imaplib.IMAP4(host, port, timeout=30)
    # imaplib sends a literal and its closing CRLF in two writes; with Nagle's algorithm the
    # second waits for the server's delayed ACK, about 40 ms per APPEND.
    client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        client.login(user, password)
        for message, date in zip(raw, dates):
            status, data = client.append(
                _quote_mailbox(folder), None, imaplib.Time2Internaldate(date), message
            )
            if status != "OK":
                raise RuntimeError(f"APPEND refused: {data!r}")
            uids.append(_appended_uid(client, data))
        client.logout()
    finally:
        try:
            client.shutdown()
        except OSError:
            pass
    return uids


def _quote_mailbox(name: str) -> str:
    # imaplib sends the mailbox name as it is; a name with a space must be quoted by us.
    if name.isalnum():
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _appended_uid(client: imaplib.IMAP4, data: list[Any]) -> int:
    """The UID from the APPENDUID response code (RFC 4315), or -1 when the server gave none."""
    text = b" ".join(d for d in data if isinstance(d, bytes)).decode("ascii", "replace")
    marker = "APPENDUID "
    if marker in text:
        return int(text.split(marker, 1)[1].split()[1].rstrip("]"))
    return -1
