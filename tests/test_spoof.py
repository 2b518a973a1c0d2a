"""Mail claiming to come from the DPO or the organisation without authentication is screened as spoof.

Guards against a forger approving a draft or posing as a colleague: the From header is free
text, only our own server's Authentication-Results (or our own DKIM check) can vouch for it.
"""

from __future__ import annotations

import dkim
import pytest
import base64
import shutil
import subprocess

from inbox_bot.parsing import parse_message
from inbox_bot.screening import RULES, ScreenContext, screen
from inbox_bot.spoof import dkim_verified, recheck

TRUSTED = ScreenContext(
    own_address="iodo@optingo.eu",
    own_domain="optingo.eu",
    message_id_domain="optingo.eu",
    dpo_addresses=("dpo@optingo.eu",),
    trusted_authserv_id="mx.optingo.eu",
)
UNTRUSTED = ScreenContext(
    own_address="iodo@optingo.eu", own_domain="optingo.eu", message_id_domain="optingo.eu",
    dpo_addresses=("dpo@optingo.eu",),
)


def raw_mail(sender: str, *extra: str) -> bytes:
    lines = [f"From: {sender}", "To: iodo@optingo.eu", "Subject: Zatwierdzam", "Message-ID: <x1@mail.example>",
             "Date: Mon, 23 Nov 2026 10:00:00 +0100", *extra]
    return ("\r\n".join(lines) + "\r\n\r\nZatwierdzam projekt odpowiedzi.\r\n").encode()


def verdict(raw: bytes, ctx=TRUSTED) -> str:
    return screen(parse_message(raw), ctx).verdict


def test_dpo_address_without_authentication_is_spoof():
    assert verdict(raw_mail("DPO <dpo@optingo.eu>")) == "spoof"
    assert verdict(raw_mail("DPO <dpo@optingo.eu>"), UNTRUSTED) == "spoof"


def test_organisation_domain_without_our_servers_pass_is_spoof():
    assert verdict(raw_mail("Prezes <prezes@optingo.eu>")) == "spoof"
    assert verdict(raw_mail("Ktoś <someone@mail.optingo.eu>")) == "spoof"


def test_a_pass_stamped_by_a_foreign_server_does_not_count():
    # Anyone can write an Authentication-Results header: only our own server's is believed.
    raw = raw_mail("DPO <dpo@optingo.eu>", "Authentication-Results: evil.example; dkim=pass header.d=optingo.eu")
    assert verdict(raw) == "spoof"


def test_a_pass_for_another_domain_does_not_count():
    # A forger's own domain passing DKIM proves nothing about ours (alignment).
    raw = raw_mail("DPO <dpo@optingo.eu>", "Authentication-Results: mx.optingo.eu; dkim=pass header.d=evil.example")
    assert verdict(raw) == "spoof"


def test_an_aligned_pass_from_our_server_is_the_dpo():
    raw = raw_mail("DPO <dpo@optingo.eu>", "Authentication-Results: mx.optingo.eu; dkim=pass header.d=optingo.eu")
    assert verdict(raw) == "request"


def test_a_look_alike_domain_is_not_our_domain():
    # optingo.eu.evil.example and xoptingo.eu are someone else's: a request, not a spoof of us.
    assert verdict(raw_mail("Jan <jan@optingo.eu.evil.example>")) == "request"
    assert verdict(raw_mail("Jan <jan@xoptingo.eu>")) == "request"


# -- our own DKIM check ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def signing_key():
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test DKIM key")
    private = subprocess.run(["openssl", "genrsa", "1024"], capture_output=True, check=True).stdout
    public = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"], input=private,
                            capture_output=True, check=True).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dnsfunc(name, timeout=5):
        return record if name == b"sel._domainkey.optingo.eu." else None

    return private, dnsfunc


def signed(raw: bytes, private: bytes, domain: bytes = b"optingo.eu") -> bytes:
    signature = dkim.sign(raw, b"sel", domain, private, include_headers=[b"from", b"to", b"subject", b"message-id"])
    return signature + raw


def test_valid_dkim_signature_clears_a_spoof_verdict(signing_key):
    private, dnsfunc = signing_key
    raw = signed(raw_mail("DPO <dpo@optingo.eu>"), private)
    mail = parse_message(raw)
    first = screen(mail, TRUSTED)
    assert first.verdict == "spoof"
    again = recheck(mail, raw, first, TRUSTED, RULES, dnsfunc=dnsfunc)
    assert again.verdict == "request"
    assert again.hits[0].rule == "dkim_verified"


def test_tampered_message_stays_spoof(signing_key):
    # Guards against a signature copied from a real mail onto a forged body.
    private, dnsfunc = signing_key
    raw = signed(raw_mail("DPO <dpo@optingo.eu>"), private).replace(b"Zatwierdzam projekt", b"Odrzucam projekt")
    mail = parse_message(raw)
    assert recheck(mail, raw, screen(mail, TRUSTED), TRUSTED, RULES, dnsfunc=dnsfunc).verdict == "spoof"


def test_signature_of_another_domain_does_not_clear(signing_key):
    private, _ = signing_key
    raw = signed(raw_mail("DPO <dpo@optingo.eu>"), private, domain=b"evil.example")

    def dnsfunc(name, timeout=5):  # the forger controls evil.example's DNS: the signature verifies
        return None

    assert not dkim_verified(raw, "optingo.eu", dnsfunc)


def test_no_signature_and_dns_failure_are_not_verified():
    raw = raw_mail("DPO <dpo@optingo.eu>")
    assert dkim_verified(raw, "optingo.eu") is False

    def broken_dns(name, timeout=5):
        raise OSError("no DNS")

    assert dkim_verified(b"DKIM-Signature: v=1; d=optingo.eu; s=sel; b=AAAA\r\n" + raw, "optingo.eu", broken_dns) is False
