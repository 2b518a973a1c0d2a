"""Real servers for the tests: Dovecot (IMAP), an aiosmtpd sink (SMTP) and a private PostgreSQL.

Each server runs on a free loopback port with every file it writes under its own temp dir, so
it never collides with a system server or with a parallel test run. A server whose binary the
machine lacks makes the test skip — or fail, when INBOX_BOT_REQUIRE_SERVERS=1 (CI), so that CI
never passes by skipping (see `need_server`).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

REQUIRE_ENV = "INBOX_BOT_REQUIRE_SERVERS"
LOOPBACK = "127.0.0.1"


# --------------------------------------------------------------------------------------------
# Skipping


def servers_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip() not in ("", "0", "no", "false")


def need_server(name: str, reason: str) -> None:
    """A server the test needs is unavailable: skip, or fail when the environment requires servers.

    Always raises (pytest's Skipped or Failed outcome). CI sets INBOX_BOT_REQUIRE_SERVERS=1 so a
    machine that lacks Dovecot or PostgreSQL turns the suite red instead of quietly green.
    """
    message = f"{name} unavailable: {reason}"
    if servers_required():
        pytest.fail(f"{message} ({REQUIRE_ENV}=1 forbids skipping)", pytrace=False)
    pytest.skip(message)


# --------------------------------------------------------------------------------------------
# Small helpers


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float, alive=lambda: True) -> bool:
    """Poll until `port` accepts a connection; False after `timeout` or once `alive()` is False."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _account(preferred: tuple[str, ...]) -> pwd.struct_passwd | None:
    for name in preferred:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


# --------------------------------------------------------------------------------------------
# Dovecot

DOVECOT_BINARIES = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")

# Dovecot 2.3's post-login capabilities (what `CAPABILITY` answers after LOGIN). The variants
# without MOVE / UIDPLUS / IDLE advertise this list minus the dropped ones; the server still
# understands the commands, but a well-behaved client only uses what is advertised.
DOVECOT_CAPABILITIES = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
    "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES "
    "WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW "
    "STATUS=SIZE SAVEDATE LITERAL+ NOTIFY"
).split()


def dovecot_binary() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return next((b for b in DOVECOT_BINARIES if os.access(b, os.X_OK)), None)


class DovecotServer:
    """A private Dovecot IMAP server: `dovecot -F -c FILE` with its own config, mail and sockets.

    Mail is Maildir++ under the temp dir, so the hierarchy separator is "." (INBOX.Processed).
    As root, mail belongs to the `dovecot` system user (present wherever Dovecot is installed);
    as another user, Dovecot runs entirely as that user.

    With `ssl_cert` and `ssl_key` (PEM files), TLS is on: STARTTLS on `port` and implicit TLS on
    `imaps_port`. `ssl_mode` is Dovecot's `ssl` setting: "yes" (TLS offered) or "required" (LOGIN
    refused before TLS — except from the loopback, which Dovecot counts as secure). Without
    them, `ssl = no` and `imaps_port` is None.
    """

    def __init__(
        self,
        user: str = "iodo@optingo.eu",
        password: str = "secret-iodo",
        *,
        without: tuple[str, ...] = (),
        root: str | os.PathLike | None = None,
        ssl_cert: str | os.PathLike | None = None,
        ssl_key: str | os.PathLike | None = None,
        ssl_mode: str = "yes",
    ) -> None:
        if (ssl_cert is None) != (ssl_key is None):
            raise ValueError("ssl_cert and ssl_key go together")
        if ssl_mode not in ("yes", "required"):
            raise ValueError("ssl_mode must be yes or required")
        binary = dovecot_binary()
        if binary is None:
            need_server("Dovecot", "no dovecot binary (apt-get install dovecot-imapd)")
        self.binary = binary
        self.host = LOOPBACK
        self.port = free_port()
        self.ssl_cert = Path(ssl_cert) if ssl_cert is not None else None
        self.ssl_key = Path(ssl_key) if ssl_key is not None else None
        self.ssl_mode = ssl_mode if ssl_cert is not None else "no"
        self.imaps_port: int | None = free_port() if ssl_cert is not None else None
        self.user = user
        self.password = password
        self.without = tuple(c.upper() for c in without)
        self._own_root = root is None
        # Not pytest's tmp_path: that is mode 0700 under root, which the mail user cannot enter.
        self.root = Path(root or tempfile.mkdtemp(prefix="inbox-bot-dovecot-"))
        self.root.chmod(0o755)
        self.log = self.root / "dovecot.log"
        self.config = self.root / "dovecot.conf"
        self.proc: subprocess.Popen | None = None
        self.users: dict[str, str] = {}
        self._write_config()
        self.add_user(user, password)

    # -- configuration ---------------------------------------------------------------------

    def _ids(self) -> tuple[int, int, str, str]:
        """(mail uid, mail gid, internal user, login user)."""
        if os.geteuid() == 0:
            mail = _account(("dovecot", "mail", "nobody"))
            if mail is None:
                need_server("Dovecot", "no `dovecot` system user to own the mail")
            internal = "dovecot" if _account(("dovecot",)) else mail.pw_name
            login = "dovenull" if _account(("dovenull",)) else internal
            return mail.pw_uid, mail.pw_gid, internal, login
        me = pwd.getpwuid(os.geteuid())
        return me.pw_uid, me.pw_gid, me.pw_name, me.pw_name

    def _write_config(self) -> None:
        uid, gid, internal, login = self._ids()
        self.uid, self.gid = uid, gid
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir(exist_ok=True)
        for sub in ("mail", "home"):
            os.chown(self.root / sub, uid, gid) if os.geteuid() == 0 else None
        capability = ""
        if self.without:
            kept = [c for c in DOVECOT_CAPABILITIES if c not in self.without]
            capability = f"imap_capability = {' '.join(kept)}\n"
        tls = ""
        imaps = "port = 0"
        if self.ssl_cert is not None:
            # "<file" makes Dovecot read the PEM from the file (read by the master, as root).
            tls = f"ssl_cert = <{self.ssl_cert}\nssl_key = <{self.ssl_key}\nssl_min_protocol = TLSv1.2\n"
            imaps = f"address = {LOOPBACK}\n    port = {self.imaps_port}\n    ssl = yes"
        self.config.write_text(
            f"""# written by tests/servers.py: a throw-away Dovecot for one test run
protocols = imap
listen = {LOOPBACK}
base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = inbox-bot-test-{self.port}
log_path = {self.log}
info_log_path = {self.log}
ssl = {self.ssl_mode}
{tls}disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {min(uid, 500)}
first_valid_gid = 0
mail_location = maildir:{self.root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
mail_privileged_group =
mailbox_list_index = yes
shutdown_clients = yes
{capability}
namespace inbox {{
  inbox = yes
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.root}/users
  default_fields = uid={uid} gid={gid} home={self.root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {LOOPBACK}
    port = {self.port}
  }}
  inet_listener imaps {{
    {imaps}
  }}
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
"""
        )

    def add_user(self, user: str, password: str) -> None:
        """Add an account (Dovecot re-reads the passwd-file when it changes)."""
        self.users[user] = password
        lines = [f"{u}:{{PLAIN}}{p}:{self.uid}:{self.gid}::{self.root}/home/{u}::" for u, p in self.users.items()]
        path = self.root / "users"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o644)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> "DovecotServer":
        if self.running:
            return self
        self.proc = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "dovecot.stderr", "ab"),
            start_new_session=True,
        )
        ports = [self.port] + ([self.imaps_port] if self.imaps_port else [])
        alive = lambda: self.proc.poll() is None  # noqa: E731
        if not all(wait_for_port(self.host, port, timeout, alive=alive) for port in ports):
            code = self.proc.poll()
            self.kill()
            raise RuntimeError(
                f"Dovecot did not accept connections on {self.host}:{ports} within {timeout}s "
                f"(exit code {code}).\n--- log ---\n{_tail(self.log)}\n--- stderr ---\n"
                f"{_tail(self.root / 'dovecot.stderr')}"
            )
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop cleanly: SIGTERM to the master, which also ends every client session."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reap_group()
        self.proc = None

    def kill(self) -> None:
        """Kill the whole process group at once, as a crash would."""
        if self.proc is None:
            return
        self._reap_group(signal.SIGKILL)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None
        # The master is gone, but its login processes (which share the listening socket) may
        # take a moment longer to die: wait until the port really refuses connections.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
            except OSError:
                break
            time.sleep(0.02)

    def _reap_group(self, sig: int = signal.SIGKILL) -> None:
        # The master runs in its own session (start_new_session), so its pid is the group id:
        # this ends its imap/auth children and no other process.
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def restart(self) -> None:
        """Stop and start again: same port, same mail."""
        self.stop()
        # The port may linger for a moment after the master exits.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((self.host, self.port))
                break
            except OSError:
                time.sleep(0.05)
        self.start()

    def cleanup(self) -> None:
        # Killing is safe here (everything it wrote is deleted next) and saves the second a
        # graceful Dovecot shutdown takes: it matters when every test starts its own server.
        self.kill()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "DovecotServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()

    # -- test set-up helpers ---------------------------------------------------------------

    def imap_client(self, user: str | None = None):
        """A logged-in imapclient.IMAPClient, for arranging and inspecting the mailbox."""
        import imapclient

        client = imapclient.IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        user = user or self.user
        client.login(user, self.users[user])
        return client

    def append(self, raw: bytes, folder: str = "INBOX", date: datetime | None = None, flags=()) -> int:
        """Append a message (INTERNALDATE `date` when given); returns its UID."""
        client = self.imap_client()
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            response = client.append(folder, raw, flags=flags, msg_time=date)
            # Dovecot answers with UIDPLUS: b"[APPENDUID <uidvalidity> <uid>] Append completed."
            text = response.decode() if isinstance(response, bytes) else str(response)
            if "APPENDUID" in text:
                return int(text.split("APPENDUID", 1)[1].split("]")[0].split()[1])
            client.select_folder(folder, readonly=True)
            return max(client.search("ALL"))
        finally:
            client.logout()

    def folder_uids(self, folder: str = "INBOX") -> list[int]:
        """The UIDs in `folder` that are not flagged \\Deleted; [] when the folder does not exist."""
        client = self.imap_client()
        try:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            return sorted(client.search(["NOT", "DELETED"]))
        finally:
            client.logout()

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """UID -> flags for every message in `folder`."""
        client = self.imap_client()
        try:
            client.select_folder(folder, readonly=True)
            return {uid: tuple(f) for uid, f in client.get_flags(client.search("ALL")).items()}
        finally:
            client.logout()

    def logins(self, at_least: int = 0, timeout: float = 3.0) -> list[str]:
        """How each successful login so far was protected, in order: "TLS" or "plain".

        Read from Dovecot's own log ("Login: ..., TLS, ..." vs "..., secured, ..."), so it is the
        server's word, not the client's. Waits up to `timeout` for `at_least` logins, because
        the log process writes a moment after the client is told it is logged in.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                lines = self.log.read_text(errors="replace").splitlines()
            except OSError:
                lines = []
            found = ["TLS" if ", TLS," in line else "plain" for line in lines if "imap-login: Info: Login:" in line]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def mailbox_settings(self, **overrides):
        """inbox_bot.config.MailboxSettings that point at this server (plain IMAP)."""
        from inbox_bot.config import MailboxSettings

        values = dict(
            host=self.host, port=self.port, security="none", username=self.user,
            password=self.password, timeout=10, poll_interval=1,
        )
        values.update(overrides)
        return MailboxSettings(**values)


# --------------------------------------------------------------------------------------------
# SMTP sink


@dataclass(frozen=True)
class SinkMessage:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    session_peer: tuple  # (host, port) of the client: equal peers mean one reused connection
    tls: bool = False  # the message came over TLS (implicit or after STARTTLS)


class _SinkHandler:
    def __init__(self, sink: "SmtpSink") -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        failure = self.sink._take_failure("RCPT")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        failure = self.sink._take_failure("DATA")
        if failure:
            return failure
        self.sink._record(
            SinkMessage(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=bytes(envelope.original_content or envelope.content),
                session_peer=tuple(session.peer),
                # The transport in use when DATA arrived: after STARTTLS it is the TLS one.
                tls=server.transport.get_extra_info("ssl_object") is not None,
            )
        )
        return "250 Message accepted for delivery"


class SmtpSink:
    """A real aiosmtpd server that keeps every message and can be told to fail or go away.

    `security` as in SmtpSettings: "none" (plain), "tls" (implicit TLS from the first byte) or
    "starttls" (STARTTLS offered and required before MAIL); the last two need `ssl_context`, a
    server-side ssl.SSLContext with the certificate loaded.
    """

    def __init__(
        self,
        auth: tuple[str, str] | None = None,
        *,
        security: str = "none",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("none", "tls", "starttls"):
            raise ValueError("security must be none, tls or starttls")
        if (security != "none") != (ssl_context is not None):
            raise ValueError("security tls or starttls needs an ssl_context, and none takes none")
        try:
            import aiosmtpd  # noqa: F401
        except ImportError:
            need_server("aiosmtpd", "the aiosmtpd package is not installed")
        self.host = LOOPBACK
        self.port = free_port()
        self.auth = auth
        self.security = security
        self.ssl_context = ssl_context
        self._lock = threading.Condition()
        self._messages: list[SinkMessage] = []
        self._failures: list[tuple[str, str]] = []  # (stage, full response line)
        self.connections = 0
        self._controller = None

    def _take_failure(self, stage: str) -> str | None:
        with self._lock:
            for i, (s, response) in enumerate(self._failures):
                if s == stage:
                    del self._failures[i]
                    return response
        return None

    def _record(self, message: SinkMessage) -> None:
        with self._lock:
            self._messages.append(message)
            self._lock.notify_all()

    def start(self) -> "SmtpSink":
        if self._controller is not None:
            return self
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        sink = self
        kwargs = {}
        if self.auth:
            user, password = self.auth

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = (
                    getattr(auth_data, "login", None) == user.encode()
                    and getattr(auth_data, "password", None) == password.encode()
                )
                # handled=False makes aiosmtpd answer 535 itself; the default leaves the client waiting.
                return AuthResult(success=ok, handled=False)

            kwargs.update(authenticator=authenticator, auth_require_tls=False, auth_required=True)
        if self.security == "tls":
            # Controller's own argument: the listening socket speaks TLS from the first byte
            # (its readiness check wraps its probe connection to match).
            kwargs.update(ssl_context=self.ssl_context)
        elif self.security == "starttls":
            # Passed through to aiosmtpd.smtp.SMTP: STARTTLS is offered, and MAIL before it
            # is refused with 530, so a client that skipped the upgrade cannot pass.
            kwargs.update(tls_context=self.ssl_context, require_starttls=True)

        class CountingController(Controller):
            def factory(self):
                sink.connections += 1
                with warnings.catch_warnings():
                    # AUTH without TLS is deliberate here: loopback only, test credentials.
                    warnings.simplefilter("ignore")
                    return super().factory()

        self._controller = CountingController(
            _SinkHandler(self), hostname=self.host, port=self.port, ready_timeout=10, **kwargs
        )
        self._controller.start()
        # Controller.start() opened one connection of its own to check readiness.
        self.connections = 0
        return self

    def stop(self) -> None:
        """Take the server down (connections are refused until start())."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def messages(self) -> list[SinkMessage]:
        with self._lock:
            return list(self._messages)

    def wait_for(self, n: int, timeout: float = 5.0) -> list[SinkMessage]:
        """Block until at least `n` messages arrived; raise AssertionError on timeout."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._messages) >= n, timeout):
                raise AssertionError(f"SMTP sink: expected {n} messages within {timeout}s, got {len(self._messages)}")
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._failures.clear()

    def fail_next(self, code: int, count: int = 1, message: str | None = None, stage: str = "DATA") -> None:
        """Answer `code` to the next `count` DATA (or RCPT) commands."""
        stage = stage.upper()
        if stage not in ("DATA", "RCPT"):
            raise ValueError("stage must be DATA or RCPT")
        text = message or ("Try again later" if 400 <= code < 500 else "Rejected")
        with self._lock:
            self._failures.extend([(stage, f"{code} {text}")] * count)

    def smtp_settings(self, **overrides):
        """inbox_bot.config.SmtpSettings that point at this sink (its security; AUTH when it has one)."""
        from inbox_bot.config import SmtpSettings

        values = dict(host=self.host, port=self.port, security=self.security, timeout=10)
        if self.auth:
            values.update(username=self.auth[0], password=self.auth[1])
        values.update(overrides)
        return SmtpSettings(**values)

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# PostgreSQL


def postgres_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin with initdb, else the directory of initdb on PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


class PostgresCluster:
    """A throw-away PostgreSQL cluster: initdb + pg_ctl in a temp dir, trust auth, loopback only.

    initdb refuses to run as root; as root the cluster belongs to the `postgres` system user,
    or to a system user created for the purpose when there is none.
    """

    SYSTEM_USER = "postgres"
    FALLBACK_USER = "inbox-bot-pg"
    SUPERUSER = "postgres"  # the database role, whatever the OS user

    def __init__(self) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            need_server("PostgreSQL", "no initdb under /usr/lib/postgresql/*/bin or on PATH")
        self.bindir = bindir
        self.host = LOOPBACK
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="inbox-bot-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "postgres.log"
        self._counter = 0
        self._run_as: tuple[int, int] | None = None
        if os.geteuid() == 0:
            self._run_as = self._system_user()

    def _system_user(self) -> tuple[int, int]:
        account = _account((self.SYSTEM_USER, self.FALLBACK_USER))
        if account is None:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self.FALLBACK_USER],
                check=True, capture_output=True,
            )
            account = pwd.getpwnam(self.FALLBACK_USER)
        return account.pw_uid, account.pw_gid

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        kwargs: dict = {}
        env = dict(os.environ, LC_ALL="C", LANG="C")
        if self._run_as:
            uid, gid = self._run_as
            kwargs.update(user=uid, group=gid, extra_groups=[])
            env["HOME"] = str(self.root)
        result = subprocess.run(
            list(args), env=env, cwd=self.root, capture_output=True, text=True, timeout=120, **kwargs
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n"
                f"--- log ---\n{_tail(self.log)}"
            )
        return result

    def start(self) -> "PostgresCluster":
        self.sockets.mkdir(exist_ok=True)
        if self._run_as:
            for path in (self.root, self.sockets):
                os.chown(path, *self._run_as)
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.SUPERUSER,
            "--auth=trust", "--encoding=UTF8", "--no-sync", "--locale=C",
        )
        options = (
            f"-c listen_addresses={self.host} -c port={self.port} "
            f"-c unix_socket_directories={self.sockets} -c fsync=off -c synchronous_commit=off "
            f"-c full_page_writes=off -c max_connections=100"
        )
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        if self.data.exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=self.SUPERUSER, dbname="postgres", autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh, empty database; return its SQLAlchemy URL."""
        if name is None:
            self._counter += 1
            name = f"t{os.getpid()}_{self._counter}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        # WITH (FORCE) ends connections a test left open (PostgreSQL 13 and later).
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
