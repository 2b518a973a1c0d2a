"""inbox_bot.mailbox against a real Dovecot: fetch by UID, mark handled, append, IDLE, reconnect."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from inbox_bot.errors import MailboxUnavailable
from inbox_bot.mailbox import HANDLED_KEYWORD, Mailbox, backoff_delays, with_reconnect


def message(n: int = 1) -> bytes:
    return (
        f"From: requester{n}@example.org\r\nTo: iodo@optingo.eu\r\n"
        f"Message-ID: <m{n}@example.org>\r\nSubject: request {n}\r\n\r\nPlease delete my data {n}.\r\n"
    ).encode()


def open_mailbox(server, **overrides) -> Mailbox:
    # Short backoff: the reconnect tests must not wait half a minute.
    return Mailbox(server.mailbox_settings(**overrides), attempts=6, base_delay=0.1, max_delay=1.0)


def test_fetch_gives_uid_uidvalidity_raw_bytes_and_utc_internaldate(dovecot):
    # 23:30 on 30 January in UTC is already 31 January in Warsaw: the deadline depends on the
    # instant being exact, so a naive local time from imapclient would shift cases by a day.
    received = datetime(2026, 1, 30, 23, 30, 5, tzinfo=timezone(timedelta(hours=-5)))
    uid = dovecot.append(message(1), date=received)
    with open_mailbox(dovecot) as mb:
        validity = mb.select()
        (fetched,) = list(mb.fetch(mb.pending_uids()))
    assert fetched.uid == uid
    assert fetched.uidvalidity == validity > 0
    assert fetched.mailbox == "INBOX"
    assert fetched.raw == message(1)
    assert fetched.internaldate.utcoffset() == timedelta(0)
    assert fetched.internaldate == received
    assert fetched.internaldate.hour == 4  # 23:30 at UTC-5 is 04:30 UTC the next day


def test_fetch_leaves_messages_unseen(dovecot):
    # Guards against the DPO's mail client showing requests as read that nobody has read.
    uid = dovecot.append(message(1))
    with open_mailbox(dovecot) as mb:
        mb.select()
        list(mb.fetch([uid]))
    assert b"\\Seen" not in dovecot.flags()[uid]


def test_fetch_streams_in_batches_and_skips_vanished_uids(dovecot):
    uids = [dovecot.append(message(n)) for n in range(7)]
    with open_mailbox(dovecot) as mb:
        mb.select()
        got = [m.uid for m in mb.fetch(uids + [9999], batch_size=3)]
    assert got == uids


def test_pending_uids_excludes_handled_and_deleted(dovecot):
    a, b, c = (dovecot.append(message(n)) for n in range(3))
    client = dovecot.imap_client()
    client.select_folder("INBOX")
    client.add_flags([c], [b"\\Deleted"])
    client.logout()
    with open_mailbox(dovecot) as mb:
        mb.select()
        assert mb.pending_uids() == [a, b]
        assert mb.mark_handled([a]) == "flagged"
        # Guards against reprocessing: a handled message must never be pending again.
        assert mb.pending_uids() == [b]
    assert HANDLED_KEYWORD.encode() in dovecot.flags()[a]


def test_mark_handled_moves_to_a_created_folder(dovecot):
    a, b = dovecot.append(message(1)), dovecot.append(message(2))
    with open_mailbox(dovecot) as mb:
        assert mb.separator == "."
        assert mb.ensure_folders("INBOX.Processed", "Sent") == ["INBOX.Processed", "Sent"]
        assert mb.ensure_folders("INBOX.Processed", "Sent") == []
        validity = mb.select()
        assert mb.mark_handled([a], "INBOX.Processed", uidvalidity=validity) == "moved"
        assert mb.pending_uids() == [b]
    assert dovecot.folder_uids("INBOX") == [b]
    assert len(dovecot.folder_uids("INBOX.Processed")) == 1


def test_mark_handled_refuses_uids_of_another_uidvalidity(dovecot):
    # Guards against moving the wrong messages after the folder was recreated on the server.
    uid = dovecot.append(message(1))
    with open_mailbox(dovecot) as mb:
        validity = mb.select()
        with pytest.raises(MailboxUnavailable, match="UIDVALIDITY"):
            mb.mark_handled([uid], "INBOX.Processed", uidvalidity=validity + 1)
    assert dovecot.folder_uids("INBOX") == [uid]


def test_without_move_copies_and_expunges_with_uidplus(dovecot_factory):
    server = dovecot_factory(without=("MOVE",))
    a, b = server.append(message(1)), server.append(message(2))
    with open_mailbox(server) as mb:
        mb.ensure_folders("INBOX.Processed")
        mb.select()
        assert "MOVE" not in mb.capabilities
        assert mb.mark_handled([a], "INBOX.Processed") == "copied"
        assert mb.pending_uids() == [b]
    assert server.folder_uids("INBOX") == [b]
    assert len(server.folder_uids("INBOX.Processed")) == 1


def test_without_move_and_uidplus_only_flags(dovecot_factory):
    # Without UIDPLUS a plain EXPUNGE would also delete mail other clients marked \Deleted.
    server = dovecot_factory(without=("MOVE", "UIDPLUS"))
    a = server.append(message(1))
    with open_mailbox(server) as mb:
        mb.ensure_folders("INBOX.Processed")
        mb.select()
        assert mb.mark_handled([a], "INBOX.Processed") == "flagged"
        assert mb.pending_uids() == []
    assert server.folder_uids("INBOX") == [a]
    assert HANDLED_KEYWORD.encode() in server.flags()[a]
    assert server.folder_uids("INBOX.Processed") == []


def test_finish_handled_moves_leftovers_of_a_crash(dovecot):
    # A crash between setting the keyword and the MOVE leaves a flagged message behind.
    uid = dovecot.append(message(1))
    with open_mailbox(dovecot) as mb:
        mb.select()
        mb.mark_handled([uid])  # keyword only: as if the process died before moving
        mb.ensure_folders("INBOX.Processed")
        assert mb.finish_handled("INBOX.Processed") == 1
    assert dovecot.folder_uids("INBOX") == []
    assert len(dovecot.folder_uids("INBOX.Processed")) == 1


def test_append_to_sent_is_seen_with_date(dovecot):
    when = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    with open_mailbox(dovecot) as mb:
        mb.ensure_folders("Sent")
        uid = mb.append("Sent", message(5), when=when)
    assert dovecot.folder_uids("Sent") == [uid]
    assert b"\\Seen" in dovecot.flags("Sent")[uid]
    client = dovecot.imap_client()
    client.normalise_times = False
    client.select_folder("Sent", readonly=True)
    assert client.fetch([uid], ["INTERNALDATE"])[uid][b"INTERNALDATE"] == when
    client.logout()


def test_idle_wakes_soon_after_an_append_from_another_connection(dovecot):
    with open_mailbox(dovecot) as mb:
        mb.select()
        timer = threading.Timer(0.3, dovecot.append, args=(message(1),))
        started = time.monotonic()
        timer.start()
        try:
            assert mb.idle_wait(timeout=10) is True
        finally:
            timer.join()
        assert time.monotonic() - started < 1.3
        assert len(mb.pending_uids()) == 1


def test_idle_times_out_without_mail(dovecot):
    with open_mailbox(dovecot) as mb:
        mb.select()
        started = time.monotonic()
        assert mb.idle_wait(timeout=0.5) is False
        assert 0.4 < time.monotonic() - started < 2
        # The connection is still usable after IDLE.
        assert mb.pending_uids() == []


def test_without_idle_polls_with_noop(dovecot_factory):
    server = dovecot_factory(without=("IDLE",))
    with open_mailbox(server, poll_interval=1) as mb:
        mb.select()
        server.append(message(1))
        started = time.monotonic()
        assert mb.idle_wait(timeout=5) is True  # NOOP after the sleep reports the EXISTS
        assert 0.9 < time.monotonic() - started < 3


def test_restart_mid_session_reconnects_on_next_call(dovecot):
    a = dovecot.append(message(1))
    with open_mailbox(dovecot) as mb:
        validity = mb.select()
        assert mb.pending_uids() == [a]
        dovecot.restart()
        b = dovecot.append(message(2))
        # Guards against a daemon that dies, or hangs, when the IMAP server restarts.
        assert mb.pending_uids() == [a, b]
        assert [m.uid for m in mb.fetch([a, b])] == [a, b]
        assert mb.uidvalidity == validity


def test_server_gone_raises_mailbox_unavailable_after_bounded_retries(dovecot):
    with open_mailbox(dovecot) as mb:
        mb.select()
        dovecot.kill()
        started = time.monotonic()
        with pytest.raises(MailboxUnavailable):
            mb.pending_uids()
        # 6 attempts with delays 0.1, 0.2, 0.4, 0.8, 1.0: bounded, not endless.
        assert time.monotonic() - started < 5


def test_wrong_password_is_mailbox_unavailable(dovecot):
    with pytest.raises(MailboxUnavailable, match="login"):
        Mailbox(dovecot.mailbox_settings(password="wrong")).connect()


def test_starttls_refused_by_plain_server_is_an_error(dovecot):
    # Guards against silently falling back to plain text when STARTTLS was configured.
    with pytest.raises(MailboxUnavailable):
        Mailbox(dovecot.mailbox_settings(security="starttls")).connect()


def test_backoff_is_exponential_and_capped():
    assert backoff_delays(6, 0.5, 3.0) == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_with_reconnect_retries_then_gives_up():
    calls, reconnects, slept = [], [], []

    def fn():
        calls.append(1)
        raise ConnectionResetError("gone")

    with pytest.raises(MailboxUnavailable, match="3 attempts"):
        with_reconnect(fn, lambda: reconnects.append(1), attempts=3, base_delay=1, max_delay=10, sleep=slept.append)
    assert (len(calls), len(reconnects), slept) == (3, 2, [1, 2])


def test_append_many_stores_every_message_seen_in_one_command(dovecot):
    # The Sent copies of a backlog go in one MULTIAPPEND; each must arrive whole and \Seen.
    raws = [message(n) for n in range(20, 26)]
    with open_mailbox(dovecot) as mb:
        assert mb.has("MULTIAPPEND")  # Dovecot offers it: the one-command path is the one tested
        mb.ensure_folders("Sent")
        mb.append_many("Sent", raws)
        mb.append_many("Sent", [])
    uids = dovecot.folder_uids("Sent")
    assert len(uids) == 6
    assert all(b"\\Seen" in flags for flags in dovecot.flags("Sent").values())
    client = dovecot.imap_client()
    client.select_folder("Sent", readonly=True)
    stored = [client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"] for uid in uids]
    client.logout()
    assert sorted(stored) == sorted(raws)
