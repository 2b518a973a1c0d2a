"""The demo's embedded IMAP server, SMTP sink and sample mail, exercised with real clients."""

from __future__ import annotations

import email
import smtplib
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from email import policy

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from inbox_bot.embedded import (
    EmbeddedImap,
    EmbeddedSmtpSink,
    sample_messages,
    seed_mailbox,
    spread_over_last_days,
)

DPO = "iodo@optingo.eu"


@pytest.fixture
def imap():
    with EmbeddedImap() as server:
        yield server


@pytest.fixture
def sink():
    with EmbeddedSmtpSink() as server:
        yield server


def login(server: EmbeddedImap) -> IMAPClient:
    client = IMAPClient(server.host, port=server.port, ssl=False, timeout=10)
    client.login(server.username, server.password)
    return client


def port_is_closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_every_sample_is_appended_and_fetched_back_by_uid_with_its_internaldate(imap):
    # Guards the demo's first step: all twelve samples must survive APPEND and come back
    # byte for byte, each with the time of receipt we gave it (the legal start of the clock).
    samples = sample_messages()
    received = [datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc) + timedelta(hours=13 * i)
                for i in range(len(samples))]
    uids = seed_mailbox(imap.host, imap.port, imap.username, imap.password,
                        (raw for _, raw in samples), received_at=received)

    client = login(imap)
    try:
        client.select_folder("INBOX")
        assert client.search(["ALL"]) == uids
        fetched = client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE", "FLAGS"])
    finally:
        client.logout()
    assert len(uids) == 12
    for uid, (name, raw), when in zip(uids, samples, received):
        assert fetched[uid][b"BODY[]"] == raw, name
        assert fetched[uid][b"INTERNALDATE"].replace(tzinfo=timezone.utc) == when, name
        # BODY.PEEK must not mark mail read: the DPO still sees it as new in their client.
        assert b"\\Seen" not in fetched[uid][b"FLAGS"], name


def test_internaldate_keeps_the_offset_it_was_given(imap):
    # A message received at 00:15 Warsaw time on 31 January is still 30 January in UTC;
    # the deadline rule depends on the server returning the same instant.
    warsaw_winter = timezone(timedelta(hours=1))
    when = datetime(2026, 1, 31, 0, 15, tzinfo=warsaw_winter)
    [uid] = seed_mailbox(imap.host, imap.port, imap.username, imap.password,
                         [b"Subject: t\r\nMessage-ID: <t@example.com>\r\n\r\nx\r\n"],
                         received_at=[when])
    client = login(imap)
    client.normalise_times = False
    try:
        client.select_folder("INBOX")
        internal = client.fetch([uid], ["INTERNALDATE"])[uid][b"INTERNALDATE"]
    finally:
        client.logout()
    assert internal == when
    assert internal.utcoffset() == timedelta(hours=1)


def test_wrong_password_is_refused(imap):
    # A server that let anyone in would hide a client that sends the wrong secret.
    client = IMAPClient(imap.host, port=imap.port, ssl=False, timeout=10)
    with pytest.raises(LoginError):
        client.login(imap.username, imap.password + "x")
    client.shutdown()


def test_capabilities_include_idle_move_and_uidplus(imap):
    # The mailbox client picks IDLE over polling and MOVE over flagging from these.
    client = login(imap)
    try:
        caps = set(client.capabilities())
    finally:
        client.logout()
    assert {b"IDLE", b"MOVE", b"UIDPLUS"} <= caps


def test_move_can_be_hidden_to_exercise_the_flagging_fallback():
    with EmbeddedImap(advertise_move=False) as server:
        client = login(server)
        try:
            caps = set(client.capabilities())
        finally:
            client.logout()
    assert b"MOVE" not in caps
    assert b"UIDPLUS" in caps


def test_handled_mail_moves_to_a_created_folder(imap):
    # Guards the last step of processing: CREATE a folder, UID MOVE into it, INBOX is empty.
    [uid] = seed_mailbox(imap.host, imap.port, imap.username, imap.password,
                         [sample_messages()[0][1]])
    client = login(imap)
    try:
        client.create_folder("Processed")
        assert "Processed" in [name for _, _, name in client.list_folders()]
        client.select_folder("INBOX")
        client.move([uid], "Processed")
        assert client.search(["ALL"]) == []
        client.select_folder("Processed")
        assert len(client.search(["ALL"])) == 1
    finally:
        client.logout()


def test_keyword_flag_is_kept(imap):
    # pymap's in-memory mailboxes drop keyword flags silently; ours keep them, so a client
    # that marks handled mail with a keyword can find the mark again and skip the message.
    uids = seed_mailbox(imap.host, imap.port, imap.username, imap.password,
                        [raw for _, raw in sample_messages()[:2]])
    client = login(imap)
    try:
        client.select_folder("INBOX")
        client.add_flags([uids[0]], [b"InboxBotDone"])
        assert b"InboxBotDone" in client.get_flags([uids[0]])[uids[0]]
        assert client.search(["NOT", "KEYWORD", "InboxBotDone"]) == [uids[1]]
    finally:
        client.logout()


def test_idle_reports_mail_appended_by_another_session(imap):
    # The daemon waits in IDLE; it must wake up when new mail arrives.
    client = login(imap)
    try:
        client.select_folder("INBOX")
        client.idle()
        appender = threading.Timer(0.2, seed_mailbox, args=(
            imap.host, imap.port, imap.username, imap.password, [sample_messages()[1][1]]))
        appender.start()
        # idle_check returns whatever arrived first; a client keeps checking until it has
        # what it waits for, as the daemon does.
        responses: list = []
        deadline = time.monotonic() + 5
        while (1, b"EXISTS") not in responses and time.monotonic() < deadline:
            responses += client.idle_check(timeout=1)
        client.idle_done()
        appender.join()
    finally:
        client.logout()
    assert (1, b"EXISTS") in responses, responses


def test_imap_stops_cleanly_with_a_session_still_open():
    # A client that never logged out must not keep the server (and the demo) alive.
    server = EmbeddedImap().start()
    client = login(server)
    client.select_folder("INBOX")
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    assert port_is_closed(server.port)
    client.shutdown()


def test_sink_keeps_what_smtplib_sends(sink):
    raw = sample_messages()[2][1]
    with smtplib.SMTP(sink.host, sink.port, local_hostname="localhost", timeout=10) as smtp:
        smtp.sendmail(DPO, ["james.oconnor.home@example.com", "dpo@optingo.eu"], raw)
    [message] = sink.messages()
    assert message.mail_from == DPO
    assert message.rcpt_tos == ("james.oconnor.home@example.com", "dpo@optingo.eu")
    assert email.message_from_bytes(message.data)["Message-ID"] == \
        email.message_from_bytes(raw)["Message-ID"]


def test_sink_stops_cleanly_and_keeps_its_messages():
    sink = EmbeddedSmtpSink().start()
    with smtplib.SMTP(sink.host, sink.port, local_hostname="localhost", timeout=10) as smtp:
        smtp.sendmail(DPO, ["a@example.com"], b"Subject: one\r\n\r\nbody\r\n")
    sink.stop()
    assert port_is_closed(sink.port)
    # The demo prints the acknowledgements after shutting the sink down.
    assert len(sink.messages()) == 1


def test_both_servers_start_within_two_seconds():
    # `inbox-bot demo` must feel instant; a DNS lookup at start-up (getfqdn) would break this
    # on a machine without network.
    started = time.monotonic()
    with EmbeddedImap() as imap, EmbeddedSmtpSink() as sink:
        elapsed = time.monotonic() - started
        assert imap.port != sink.port
    assert elapsed < 2


def test_every_sample_parses_and_has_a_message_id():
    samples = sample_messages()
    assert [name[:3] for name, _ in samples] == [f"{i:02d}-" for i in range(1, 13)]
    for name, raw in samples:
        message = email.message_from_bytes(raw, policy=policy.default)
        assert not message.defects, name
        assert message["Message-ID"], name
        assert message["Date"].datetime is not None, name
        assert message["To"].addresses[0].addr_spec == DPO, name
        assert message.get_body(("plain", "html")) is not None, name


def test_polish_samples_decode_their_diacritics():
    # The windows-1250 and iso-8859-2 samples are there to exercise charsets; a mislabelled
    # or mis-encoded sample would silently turn them into plain ASCII tests.
    by_name = dict(sample_messages())
    access = email.message_from_bytes(by_name["01-access-request-pl.eml"], policy=policy.default)
    complaint = email.message_from_bytes(by_name["06-complaint-uodo-pl.eml"], policy=policy.default)
    assert access.get_content_charset() == "windows-1250"
    assert "Małgorzata Wiśniewska" in access.get_content()
    assert access["Subject"].startswith("Wniosek o dostęp")
    assert complaint.get_content_charset() == "iso-8859-2"
    assert "skargę do Prezesa Urzędu" in complaint.get_content()


def test_robot_samples_carry_their_robot_headers():
    # Screening must have something to catch in the demo: an RFC 3834 auto-reply and a DSN.
    by_name = dict(sample_messages())
    ooo = email.message_from_bytes(by_name["10-out-of-office-pl.eml"], policy=policy.default)
    dsn = email.message_from_bytes(by_name["11-bounce-dsn.eml"], policy=policy.default)
    assert ooo["Auto-Submitted"] == "auto-replied"
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    assert dsn["Return-Path"] == "<>"


def test_default_times_of_receipt_are_ascending_and_in_the_past():
    now = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
    times = spread_over_last_days(12, now)
    assert times == sorted(times) and len(set(times)) == 12
    assert all(now - timedelta(days=6) < t < now for t in times)
    # Different days of receipt give different deadlines in the demo.
    assert len({t.date() for t in times}) >= 5
