"""TLS against real servers: Dovecot with imaps and STARTTLS, aiosmtpd with implicit TLS and STARTTLS.

Every server presents a certificate for 127.0.0.1 signed by a throw-away CA (tests/tls_certs.py),
so a client verifies it only when `tls_ca_file` names that CA. Whether a connection really was
encrypted is the server's word: Dovecot's login log ("TLS") and the sink's transport.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from helpers import cases_of, outbox_rows, request_mail, run_once, settings_for, to_requesters
from inbox_bot import config as config_mod
from inbox_bot.errors import MailboxUnavailable, TemporarySendError
from inbox_bot.mailbox import Mailbox
from inbox_bot.transport import SmtpTransport
from servers import DovecotServer, SmtpSink
from tls_certs import make_ca, make_server_certificate

FROM = "iodo@optingo.eu"


def message(n: int = 1) -> bytes:
    return (
        f"From: requester{n}@example.org\r\nTo: iodo@optingo.eu\r\n"
        f"Message-ID: <tls{n}@example.org>\r\nSubject: request {n}\r\n\r\nPlease delete my data {n}.\r\n"
    ).encode()


def ack(n: int) -> bytes:
    return (
        f"From: {FROM}\r\nTo: requester{n}@example.org\r\nSubject: [IODO-2026-{n:05d}] received\r\n"
        f"Message-ID: <tlsack{n}@optingo.eu>\r\nAuto-Submitted: auto-replied\r\n\r\nWe received it.\r\n"
    ).encode()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """The servers' certificate (signed by `certs.ca`) and an unrelated CA that did not sign it."""
    directory = tmp_path_factory.mktemp("tls")
    server = make_server_certificate(make_ca(directory / "ca", "inbox-bot test CA"), directory / "server")
    stranger = make_ca(directory / "other", "some other CA")
    return server, stranger


@pytest.fixture
def tls_dovecot(certs):
    """Dovecot with TLS: implicit on `imaps_port`, STARTTLS on `port`."""
    server, _ = certs
    dovecot = DovecotServer(ssl_cert=server.cert_file, ssl_key=server.key_file, ssl_mode="required")
    try:
        yield dovecot.start()
    finally:
        dovecot.cleanup()


def sink(certs, security: str) -> SmtpSink:
    server, _ = certs
    return SmtpSink(security=security, ssl_context=server.server_context())


def open_mailbox(dovecot: DovecotServer, **overrides) -> Mailbox:
    # attempts=1: a refused handshake must come out at once, not after a reconnect schedule.
    return Mailbox(dovecot.mailbox_settings(**overrides), attempts=1, base_delay=0.1, max_delay=0.1)


# -- IMAP ----------------------------------------------------------------------------------


def test_imap_implicit_tls_with_the_ca_file_fetches_mail(tls_dovecot, certs):
    # Guards against tls_ca_file being ignored: the server's CA is in no system bundle, so
    # without it the handshake fails and nothing is fetched.
    server, _ = certs
    uid = tls_dovecot.append(message(1))
    with open_mailbox(
        tls_dovecot, port=tls_dovecot.imaps_port, security="tls", tls_ca_file=str(server.ca.cert_file)
    ) as mb:
        mb.select()
        (fetched,) = list(mb.fetch(mb.pending_uids()))
    assert fetched.uid == uid
    assert fetched.raw == message(1)
    # The helper's append logged in over plain loopback; the mailbox's login was over TLS.
    assert tls_dovecot.logins(at_least=2) == ["plain", "TLS"]


def test_imap_starttls_upgrades_before_login(tls_dovecot, certs):
    # Guards against logging in (and sending the password) before the upgrade: Dovecot records
    # the login as TLS only when STARTTLS came first on the plain port.
    server, _ = certs
    uid = tls_dovecot.append(message(2))
    with open_mailbox(tls_dovecot, security="starttls", tls_ca_file=str(server.ca.cert_file)) as mb:
        mb.select()
        assert mb.pending_uids() == [uid]
    assert tls_dovecot.logins(at_least=2)[-1] == "TLS"


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_imap_verification_without_the_right_ca_is_refused_at_once(tls_dovecot, certs, security):
    # Guards against a verification failure that hangs, retries for minutes, or falls back to
    # an unverified connection: it is one clear MailboxUnavailable, and no login took place.
    _, stranger = certs
    port = tls_dovecot.imaps_port if security == "tls" else tls_dovecot.port
    for ca_file in (None, str(stranger.cert_file)):  # the system's bundle, then an unrelated CA
        started = time.monotonic()
        with pytest.raises(MailboxUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            with open_mailbox(tls_dovecot, port=port, security=security, tls_verify=True, tls_ca_file=ca_file):
                pass
        assert time.monotonic() - started < 5
    assert tls_dovecot.logins(timeout=0.3) == []


def test_imap_without_verification_connects_to_an_unknown_certificate(tls_dovecot):
    # tls_verify = false is the escape hatch for a self-signed server: it must still encrypt.
    uid = tls_dovecot.append(message(3))
    with open_mailbox(tls_dovecot, port=tls_dovecot.imaps_port, security="tls", tls_verify=False) as mb:
        mb.select()
        assert mb.pending_uids() == [uid]
    assert tls_dovecot.logins(at_least=2)[-1] == "TLS"


# -- SMTP ----------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_smtp_over_tls_delivers_to_the_sink(certs, security):
    # Guards against tls_ca_file missing from the SMTP context (the handshake would fail) and
    # against a "starttls" that sends in the clear (the sink requires STARTTLS before MAIL).
    server, _ = certs
    with sink(certs, security) as smtp:
        settings = smtp.smtp_settings(tls_ca_file=str(server.ca.cert_file))
        assert settings.security == security

        async def go():
            async with SmtpTransport(settings) as transport:
                return await transport.send(FROM, ["requester1@example.org"], ack(1))

        result = asyncio.run(go())
        (received,) = smtp.wait_for(1)
    assert result.accepted == ("requester1@example.org",)
    assert received.tls is True
    assert b"[IODO-2026-00001]" in received.raw


def test_smtp_starttls_with_the_wrong_ca_is_a_temporary_error(certs):
    # A certificate we cannot verify is our configuration's fault, not the recipient's: the
    # message must stay queued for a retry (temporary), and nothing may go out unverified.
    _, stranger = certs
    with sink(certs, "starttls") as smtp:
        settings = smtp.smtp_settings(tls_ca_file=str(stranger.cert_file))
        started = time.monotonic()
        with pytest.raises(TemporarySendError, match="CERTIFICATE_VERIFY_FAILED") as caught:
            asyncio.run(SmtpTransport(settings).send(FROM, ["requester1@example.org"], ack(1)))
        assert time.monotonic() - started < 5
        assert caught.value.code is None
        assert smtp.messages() == []


def test_config_refuses_a_ca_file_that_does_not_exist(tmp_path):
    # A typo in the path must stop start-up with the key named, not fail every connection later.
    data = {
        "organisation": dict(config_mod.DEFAULT_ORGANISATION),
        "smtp": {"host": "127.0.0.1", "tls_ca_file": str(tmp_path / "missing.pem")},
    }
    with pytest.raises(config_mod.ConfigError, match=r"\[smtp\] tls_ca_file"):
        config_mod.from_dict(data, "<test>")


# -- the whole loop --------------------------------------------------------------------------


def test_a_full_pass_over_tls_on_both_sides_acknowledges_the_request(tls_dovecot, certs, tmp_path, classifier_ready):
    # The defaults of a real deployment — IMAP on implicit TLS, SMTP with STARTTLS — with a
    # company CA in tls_ca_file: one pass fetches the request, opens a case and sends the
    # acknowledgement, and every connection on both sides was encrypted.
    server, _ = certs
    ca_file = str(server.ca.cert_file)
    tls_dovecot.append(request_mail(
        "John Smith <john.smith@example.com>",
        "Subject access request",
        "Dear Sir or Madam,\nunder Article 15 GDPR I request a copy of all personal data you hold about me.\nJohn Smith",
    ))
    with sink(certs, "starttls") as smtp:
        settings = settings_for(
            tls_dovecot, smtp, f"sqlite:///{tmp_path}/t.db",
            mailbox={"port": tls_dovecot.imaps_port, "security": "tls", "tls_ca_file": ca_file},
            smtp={"security": "starttls", "tls_ca_file": ca_file},
        )
        report = run_once(settings)
        (sent,) = to_requesters(smtp, 1)
    assert report.passes.fetched == 1
    assert report.delivery.sent >= 1
    (case,) = cases_of(settings)
    assert case.reference.encode() in sent.raw
    assert sent.rcpt_tos == ("john.smith@example.com",)
    assert sent.tls is True
    assert all(m.tls for m in smtp.messages())
    (row,) = outbox_rows(settings, kind="acknowledgement")
    assert row.status == "sent" and row.copied_to_sent  # the Sent copy also went over IMAP with TLS
    logins = tls_dovecot.logins(at_least=2)
    # The first login is the helper's plain append; every one the runner made was TLS.
    assert logins[0] == "plain" and logins[1:] and set(logins[1:]) == {"TLS"}
