"""The decision (step 7): a pure function from what we know of a message to what to do with it.

Inputs are plain values: the parsed mail, the screening result, the case the message threads to
(if any), the classification, and the policy. The output is a Decision; nothing here touches the
database, the mailbox or the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inbox_bot.values import (
    RIGHTS_LABELS,
    Classification,
    Decision,
    InboundMail,
    ReplyPlan,
    ScreenResult,
)


@dataclass(frozen=True)
class ThreadedCase:
    """What the decision needs to know of an existing case a message belongs to."""

    reference: str
    status: str
    labels: tuple[str, ...]
    requester: str | None
    how: str  # "subject" | "in_reply_to" | "duplicate"


@dataclass(frozen=True)
class Policy:
    acknowledge_other: bool = False


def decide(
    mail: InboundMail,
    screen: ScreenResult,
    threaded: ThreadedCase | None,
    classification: Classification | None,
    policy: Policy = Policy(),
) -> Decision:
    if not screen.is_request:
        # Robots, lists and our own mail never get an answer and never open a case.
        return Decision(action="ignore", reason=f"screened as {screen.verdict}")

    labels = classification.labels if classification else ()
    wants_optout = "marketing_optout" in labels and mail.sender is not None

    if threaded is not None:
        flags: list[str] = []
        if threaded.how == "duplicate":
            flags.append("duplicate")
            if looks_like_reminder(mail.subject + "\n" + mail.text):
                # "I still have no answer": the same request again, chasing the clock.
                flags.append("reminder")
        elif threaded.status in ("closed", "answered", "rejected"):
            if classification is not None and labels == ("other",) and not classification.triage:
                # "Thank you" after the answer asks for nothing: it joins the case's history
                # without reopening it, which would withdraw the register's outcome and put a
                # finished case back on the DPO's list. Anything else, or anything unsure,
                # reopens: a missed complaint about the answer costs more than a look.
                flags.append("after_close")
            else:
                flags.append("reopened")
        else:
            flags.append("reminder" if _is_reminder(labels, threaded) else "follow_up")
        return Decision(
            action="attach",
            reason=f"threads to {threaded.reference} by {threaded.how}",
            labels=labels,
            case_reference=threaded.reference,
            suppress=wants_optout,
            flags=tuple(flags),
        )

    if mail.sender is None:
        # A person's mail with no usable From address: the DPO must look, and nobody can be answered.
        return Decision(action="triage", reason="no valid sender address", labels=labels)

    if classification is None:
        return Decision(action="triage", reason="not classified", replies=(ReplyPlan("acknowledgement", True),))

    if labels == ("other",) and not classification.triage:
        if policy.acknowledge_other:
            return Decision(
                action="open_case",
                reason="not a data protection request; acknowledged by configuration",
                labels=labels,
                replies=(ReplyPlan("acknowledgement", True),),
            )
        return Decision(action="ignore", reason="not a data protection request", labels=labels)

    if classification.triage:
        return Decision(
            action="triage",
            reason=f"confidence {classification.confidence:.2f} below the threshold",
            labels=labels,
            suppress=wants_optout,
            replies=(ReplyPlan("acknowledgement", True),),
        )

    if set(labels) == {"marketing_optout"}:
        # The confirmation is the answer; a second "we received your request" would be noise.
        replies: tuple[ReplyPlan, ...] = (ReplyPlan("optout_confirmation", True),)
    else:
        replies = (ReplyPlan("acknowledgement", True),)
    return Decision(
        action="open_case",
        reason="request: " + ", ".join(labels),
        labels=labels,
        suppress=wants_optout,
        replies=replies,
    )


# Words people use when they chase an unanswered request. Kept short and specific: a false
# "reminder" only raises the case in the digest, a missed one leaves it as a plain duplicate.
_REMINDER = re.compile(
    r"(przypominam|przypomnienie|ponawiam|ponaglenie|ponaglam|nadal (nie|brak)|wciąż (nie|brak)|"
    r"wciaz (nie|brak)|dalej nie|do dziś nie|do dzis nie|bez odpowiedzi|brak odpowiedzi|"
    r"still (no|not|haven)|no (answer|reply|response) (yet|so far)|haven'?t (heard|received)|"
    r"reminder|chasing|follow(ing)?[- ]up|second request|"
    r"erinnerung|noch keine antwort|rappel|relance|recordatorio)",
    re.IGNORECASE,
)


def looks_like_reminder(text: str) -> bool:
    return bool(_REMINDER.search(text))


def _is_reminder(labels: tuple[str, ...], threaded: ThreadedCase) -> bool:
    """A follow-up asking again for what the case already covers ("still no answer")."""
    return bool(set(labels) & set(threaded.labels) & RIGHTS_LABELS) or "complaint" in labels
