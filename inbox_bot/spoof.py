"""Optional DKIM verification (dkimpy) for mail that claims to come from the organisation.

Screening's SpoofRule judges by the Authentication-Results our own mail server stamped. Where
that server adds none (a small hosted mailbox), the DPO can turn on our own DKIM check: a
message screened as `spoof` whose DKIM signature verifies for its From domain is authentic
after all, and is screened again without the spoof rule.

The check can only clear a message, never accuse one: a missing or broken signature leaves the
rule's verdict as it was, and a DNS failure counts as "not verified". It runs only on mail
already screened as spoof, so an ordinary day's mail costs no DNS lookups.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Callable

import dkim

from inbox_bot.values import InboundMail, RuleHit, ScreenResult

log = logging.getLogger(__name__)

_SIGNING_DOMAIN = re.compile(rb"(?:^|;)\s*d\s*=\s*([A-Za-z0-9.-]+)", re.I)


def _aligned(signing: str, from_domain: str) -> bool:
    signing, from_domain = signing.lower().rstrip("."), from_domain.lower().rstrip(".")
    return signing == from_domain or from_domain.endswith("." + signing)


def dkim_verified(raw: bytes, from_domain: str, dnsfunc: Callable[..., bytes] | None = None) -> bool:
    """True when the message's first DKIM signature verifies and is aligned with `from_domain`.

    `dnsfunc(name, timeout=...)` returns the TXT record for a selector; tests pass their own
    key, the daemon uses DNS.
    """
    if not raw or not from_domain:
        return False
    try:
        signatures = [v for k, v in _signature_headers(raw)]
        if not signatures:
            return False
        match = _SIGNING_DOMAIN.search(signatures[0])
        if not match or not _aligned(match.group(1).decode("ascii", "replace"), from_domain):
            return False
        kwargs = {"dnsfunc": dnsfunc} if dnsfunc is not None else {}
        return bool(dkim.verify(raw, **kwargs))
    except Exception:  # noqa: BLE001 - a malformed signature or a DNS failure proves nothing
        return False


def _signature_headers(raw: bytes) -> list[tuple[bytes, bytes]]:
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    unfolded = re.sub(rb"\r?\n[ \t]+", b" ", head)
    out = []
    for line in unfolded.splitlines():
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"dkim-signature":
            out.append((name, value))
    return out


def recheck(mail: InboundMail, raw: bytes, result: ScreenResult, ctx, rules,
            dnsfunc: Callable[..., bytes] | None = None) -> ScreenResult:
    """Screen again without the spoof rule when a `spoof` verdict is refuted by a valid DKIM signature."""
    if result.verdict != "spoof" or not mail.sender:
        return result
    domain = mail.sender.rpartition("@")[2]
    if not dkim_verified(raw, domain, dnsfunc):
        return result
    from inbox_bot.screening import screen

    again = screen(mail, ctx, tuple(r for r in rules if r.verdict != "spoof"))
    hit = RuleHit("dkim_verified", "info", f"DKIM signature verified for {domain}; spoof verdict withdrawn")
    return replace(again, hits=(hit,) + again.hits)
