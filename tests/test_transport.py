"""inbox_bot.transport against a real aiosmtpd sink: reuse, error mapping, a server that is down."""

from __future__ import annotations

import asyncio

import pytest

from inbox_bot.errors import PermanentSendError, SystemFault, TemporarySendError
from inbox_bot.transport import SendResult, SmtpTransport, send_many
from servers import SmtpSink

FROM = "iodo@optingo.eu"


def ack(n: int) -> bytes:
    return (
        f"From: {FROM}\r\nTo: requester{n}@example.org\r\nSubject: [IODO-2026-{n:05d}] received\r\n"
        f"Message-ID: <ack{n}@optingo.eu>\r\nAuto-Submitted: auto-replied\r\n\r\nWe received it.\r\n"
    ).encode()


def run(coro):
    return asyncio.run(coro)


def test_many_messages_over_one_connection(smtp_sink):
    async def go():
        async with SmtpTransport(smtp_sink.smtp_settings()) as t:
            results = [await t.send(FROM, [f"requester{n}@example.org"], ack(n)) for n in range(5)]
            return results, t.connections

    results, connections = run(go())
    assert all(isinstance(r, SendResult) and len(r.accepted) == 1 for r in results)
    messages = smtp_sink.wait_for(5)
    assert [m.rcpt_tos for m in messages] == [(f"requester{n}@example.org",) for n in range(5)]
    assert messages[0].raw == ack(0)
    # Guards against a new TCP connection (and TLS handshake, and AUTH) per acknowledgement.
    assert connections == 1 and smtp_sink.connections == 1
    assert len({m.session_peer for m in messages}) == 1


def test_451_is_temporary_with_its_code(smtp_sink):
    smtp_sink.fail_next(451)

    async def go():
        async with SmtpTransport(smtp_sink.smtp_settings()) as t:
            with pytest.raises(TemporarySendError) as caught:
                await t.send(FROM, ["a@example.org"], ack(1))
            # The connection survives a refused message: the next one goes out on it.
            await t.send(FROM, ["b@example.org"], ack(2))
            return caught.value, t.connections

    error, connections = run(go())
    assert error.code == 451 and isinstance(error, SystemFault)
    assert connections == 1
    assert [m.rcpt_tos for m in smtp_sink.wait_for(1)] == [("b@example.org",)]


def test_550_is_permanent_with_its_code(smtp_sink):
    smtp_sink.fail_next(550)

    async def go():
        async with SmtpTransport(smtp_sink.smtp_settings()) as t:
            await t.send(FROM, ["a@example.org"], ack(1))

    with pytest.raises(PermanentSendError) as caught:
        run(go())
    assert caught.value.code == 550
    assert smtp_sink.messages() == []


def test_recipient_refusals(smtp_sink):
    # One of two recipients refused: the message went out and must not be sent again.
    smtp_sink.fail_next(550, stage="RCPT")

    async def go():
        async with SmtpTransport(smtp_sink.smtp_settings()) as t:
            partial = await t.send(FROM, ["gone@example.org", "dpo@optingo.eu"], ack(1))
            smtp_sink.fail_next(450, stage="RCPT")
            with pytest.raises(TemporarySendError) as caught:
                await t.send(FROM, ["busy@example.org"], ack(2))
            return partial, caught.value

    partial, temporary = run(go())
    assert partial.accepted == ("dpo@optingo.eu",)
    assert partial.refused["gone@example.org"][0] == 550
    assert temporary.code == 450


def test_stopped_server_is_temporary(smtp_sink):
    smtp_sink.stop()
    with pytest.raises(TemporarySendError) as caught:
        run(SmtpTransport(smtp_sink.smtp_settings(timeout=3)).send(FROM, ["a@example.org"], ack(1)))
    assert caught.value.code is None


def test_reconnects_when_the_server_went_away_between_messages(smtp_sink):
    async def go():
        async with SmtpTransport(smtp_sink.smtp_settings()) as t:
            await t.send(FROM, ["a@example.org"], ack(1))
            smtp_sink.stop()
            smtp_sink.start()
            await asyncio.sleep(0.05)
            await t.send(FROM, ["b@example.org"], ack(2))
            return t.connections

    assert run(go()) == 2
    assert len(smtp_sink.wait_for(2)) == 2


def test_starttls_required_but_not_offered_is_an_error(smtp_sink):
    # Guards against sending in plain text when the configuration asked for STARTTLS.
    with pytest.raises(TemporarySendError):
        run(SmtpTransport(smtp_sink.smtp_settings(security="starttls")).send(FROM, ["a@example.org"], ack(1)))
    assert smtp_sink.messages() == []


def test_auth_only_when_a_username_is_configured():
    with SmtpSink(auth=("iodo@optingo.eu", "smtp-secret")) as sink:
        results = send_many(sink.smtp_settings(), None, [(FROM, ["a@example.org"], ack(1))])
        assert isinstance(results[0], SendResult)
        # Without a username no AUTH is attempted, and this server insists on it: refused.
        (refused,) = send_many(sink.smtp_settings(username=None, password=None), None, [(FROM, ["a@example.org"], ack(2))])
        assert isinstance(refused, PermanentSendError) and refused.code == 530
        wrong = send_many(sink.smtp_settings(password="wrong"), None, [(FROM, ["a@example.org"], ack(3))])
        assert isinstance(wrong[0], TemporarySendError) and wrong[0].code == 535
        assert len(sink.messages()) == 1


def test_send_many_returns_a_result_per_item(smtp_sink):
    smtp_sink.fail_next(451)
    items = [(FROM, [f"r{n}@example.org"], ack(n)) for n in range(3)]
    results = send_many(smtp_sink.smtp_settings(), None, items)
    assert [type(r).__name__ for r in results] == ["TemporarySendError", "SendResult", "SendResult"]
    assert smtp_sink.connections == 1
