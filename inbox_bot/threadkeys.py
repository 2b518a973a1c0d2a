"""Find what in a message may point at an existing case (step 5), before any database lookup. Pure.

Two kinds of key: case references written in the subject ("IODO-2026-00042", also inside
brackets, in any letter case, as people retype them), and the In-Reply-To / References ids that
we generated ourselves (their domain part is our Message-ID domain). A reply whose client
dropped the subject reference still threads by its References, and one whose client dropped the
References (webmail "reply" from a phone) still threads by its subject.
"""

from __future__ import annotations

import re
from functools import lru_cache

from inbox_bot.values import InboundMail, ThreadKeys


@lru_cache(maxsize=16)
def _reference_pattern(prefix: str) -> re.Pattern[str]:
    # Word boundaries on both sides so that "XIODO-2026-000421" is not read as a reference.
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(prefix)}-(\d{{4}})-(\d{{5}})(?![0-9])", re.IGNORECASE)


def thread_keys(mail: InboundMail, reference_prefix: str, message_id_domain: str) -> ThreadKeys:
    """Case references in the subject (normalised to PREFIX-YYYY-NNNNN) and our own Message-IDs."""
    pattern = _reference_pattern(reference_prefix.upper())
    references: list[str] = []
    for year, number in pattern.findall(mail.subject or ""):
        reference = f"{reference_prefix.upper()}-{year}-{number}"
        if reference not in references:
            references.append(reference)
    domain = message_id_domain.lower().strip()
    ours: list[str] = []
    candidates = ([mail.in_reply_to] if mail.in_reply_to else []) + list(mail.references)
    for message_id in candidates:
        if "@" in message_id and message_id.rpartition("@")[2].lower().strip() == domain and message_id not in ours:
            ours.append(message_id)
    return ThreadKeys(references_in_subject=tuple(references), our_message_ids=tuple(ours))
