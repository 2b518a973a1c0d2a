"""Hand finished messages to the SMTP server: the only module that imports aiosmtplib.

`SmtpTransport` keeps one connection open for many messages and reconnects when the server has
closed it. Failures come out as two kinds (inbox_bot.errors), each carrying the SMTP `code`
(None when there was no answer at all):

- TemporarySendError: a 4xx answer, a refused, reset or timed-out connection, a failed
  STARTTLS or AUTH — try again later (AUTH fails for every message alike: it is our fault,
  not the recipient's, and must not park the mail for good);
- PermanentSendError: a 5xx answer for the message or its recipients — retrying will not help.

Security: "tls" is implicit TLS (port 465), "starttls" requires the upgrade (a server that does
not offer it is an error, never a silent fall-back to plain text), "none" never attempts it —
aiosmtplib would otherwise upgrade on its own whenever the server advertises STARTTLS, and fail
against a server whose certificate is not trusted. AUTH only when a username is configured.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import aiosmtplib

from inbox_bot.config import SmtpSettings
from inbox_bot.errors import PermanentSendError, TemporarySendError

log = logging.getLogger(__name__)

SendError = TemporarySendError | PermanentSendError


@dataclass(frozen=True)
class SendResult:
    """The server accepted the message for at least one recipient."""

    accepted: tuple[str, ...]
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)  # recipient -> (code, text)
    response: str = ""


def _error(kind: type[SendError], message: str, code: int | None) -> SendError:
    error = kind(message)
    error.code = code  # type: ignore[attr-defined]
    return error


def classify(exc: BaseException) -> SendError:
    """Map an aiosmtplib or socket failure to TemporarySendError or PermanentSendError."""
    if isinstance(exc, (TemporarySendError, PermanentSendError)):
        return exc
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        # Every recipient refused: permanent only if every refusal was permanent.
        kind = PermanentSendError if codes and all(c >= 500 for c in codes) else TemporarySendError
        code = max(codes) if kind is PermanentSendError else min(codes, default=None)
        return _error(kind, f"all recipients refused ({', '.join(str(c) for c in codes)})", code)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return _error(TemporarySendError, f"SMTP authentication failed: {exc.code} {exc.message}", exc.code)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        kind = PermanentSendError if 500 <= exc.code < 600 else TemporarySendError
        return _error(kind, f"SMTP server answered {exc.code} {exc.message}", exc.code)
    if isinstance(exc, (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError)):
        return _error(TemporarySendError, f"SMTP connection failed: {type(exc).__name__}: {exc}", None)
    raise exc


class SmtpTransport:
    """One SMTP connection, reused for every `send` within `async with`."""

    def __init__(self, settings: SmtpSettings, password: str | None = None) -> None:
        self.settings = settings
        self._password = settings.secret() if password is None else password
        self._smtp: aiosmtplib.SMTP | None = None
        self.connections = 0  # how many connections were opened: for tests and metrics

    async def __aenter__(self) -> "SmtpTransport":
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        # With a CA file only that CA is trusted (a company CA); without, the system's bundle.
        context = ssl.create_default_context(cafile=s.tls_ca_file if s.tls_verify else None)
        if not s.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        auth = {}
        if s.username:
            auth = {"username": s.username, "password": self._password or ""}
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            timeout=s.timeout,
            use_tls=s.security == "tls",
            # None would mean "upgrade if offered": explicit True/False keeps the setting's meaning.
            start_tls=s.security == "starttls",
            validate_certs=s.tls_verify,
            tls_context=context if s.security != "none" else None,
            **auth,
        )

    async def connect(self) -> None:
        """Connect (and STARTTLS, AUTH as configured); TemporarySendError when that fails."""
        await self.close()
        try:
            smtp = self._client()
        except OSError as exc:  # an unreadable tls_ca_file: our fault, like a failed AUTH
            raise classify(exc) from exc
        try:
            await smtp.connect()
        except Exception as exc:  # noqa: BLE001 - every failure is classified below
            smtp.close()
            raise classify(exc) from exc
        self._smtp = smtp
        self.connections += 1
        log.debug("smtp connected security=%s auth=%s", self.settings.security, bool(self.settings.username))

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if smtp.is_connected:
                await smtp.quit()
        except Exception:  # noqa: BLE001 - the connection is being thrown away anyway
            smtp.close()

    async def send(self, envelope_from: str, recipients: Sequence[str], raw: bytes) -> SendResult:
        """Send `raw` to `recipients`; TemporarySendError or PermanentSendError when it was not accepted.

        A partial refusal (some recipients refused, others accepted) is a SendResult with
        `refused` filled in: the message has gone out and must not be sent again.
        """
        recipients = list(recipients)
        reused = self._smtp is not None and self._smtp.is_connected
        if not reused:
            await self.connect()
        try:
            return await self._send(envelope_from, recipients, raw)
        except aiosmtplib.SMTPServerDisconnected as exc:
            if not reused:
                raise self._failed(exc) from exc
            # The server closed an idle connection we meant to reuse. It drops idle clients
            # before MAIL FROM, so the message was not accepted: one retry on a fresh connection.
            log.info("smtp connection was closed by the server; reconnecting")
        except Exception as exc:  # noqa: BLE001
            raise self._failed(exc) from exc
        await self.connect()
        try:
            return await self._send(envelope_from, recipients, raw)
        except Exception as exc:  # noqa: BLE001
            raise self._failed(exc) from exc

    async def _send(self, envelope_from: str, recipients: list[str], raw: bytes) -> SendResult:
        errors, response = await self._smtp.sendmail(envelope_from, recipients, raw)
        refused = {r: (e.code, e.message) for r, e in errors.items()}
        accepted = tuple(r for r in recipients if r not in refused)
        log.info("smtp sent recipients=%d refused=%d", len(accepted), len(refused))
        return SendResult(accepted=accepted, refused=refused, response=response)

    def _failed(self, exc: BaseException) -> SendError:
        error = classify(exc)
        if not isinstance(exc, aiosmtplib.SMTPResponseException | aiosmtplib.SMTPRecipientsRefused):
            # After a connection-level failure the connection is unusable: start afresh next time.
            if self._smtp is not None:
                self._smtp.close()
            self._smtp = None
        log.warning("smtp send failed kind=%s code=%s", type(error).__name__, getattr(error, "code", None))
        return error


async def send_all(
    settings: SmtpSettings, password: str | None, items: Iterable[tuple[str, Sequence[str], bytes]]
) -> list[SendResult | SendError]:
    """Send every (envelope_from, recipients, raw) over one connection; a result or error per item.

    A failure to connect at all is returned for every item, so each one is retried later.
    """
    results: list[SendResult | SendError] = []
    transport = SmtpTransport(settings, password)
    try:
        for envelope_from, recipients, raw in items:
            try:
                results.append(await transport.send(envelope_from, recipients, raw))
            except (TemporarySendError, PermanentSendError) as exc:
                results.append(exc)
    finally:
        await transport.close()
    return results


def send_many(
    settings: SmtpSettings, password: str | None, items: Iterable[tuple[str, Sequence[str], bytes]]
) -> list[SendResult | SendError]:
    """`send_all` for synchronous callers (a worker thread, the CLI): runs its own event loop."""
    return asyncio.run(send_all(settings, password, list(items)))


__all__ = ["SendError", "SendResult", "SmtpTransport", "classify", "send_all", "send_many"]
