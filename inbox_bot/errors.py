"""The two kinds of failure: the sender's mistakes and our own faults, kept apart.

A SenderError is something wrong with what arrived (unparseable mail, an invalid address, a
forged approval): logged at info, the message is quarantined or answered politely. A SystemFault
is ours or our infrastructure's (database down, SMTP unreachable): logged as an error and retried.
"""


class InboxBotError(Exception):
    """Base of every error inbox-bot raises on purpose."""


class SenderError(InboxBotError):
    """The input is at fault: a message we cannot use as it is."""


class SystemFault(InboxBotError):
    """We are at fault, or a server we depend on is: retry later."""


class TemporarySendError(SystemFault):
    """SMTP said 4xx or the connection failed: try again later."""


class PermanentSendError(InboxBotError):
    """SMTP said 5xx for this recipient: retrying will not help."""


class MailboxUnavailable(SystemFault):
    """The IMAP server cannot be reached or dropped the connection."""


class LifecycleError(InboxBotError):
    """A case transition that the lifecycle does not allow."""
