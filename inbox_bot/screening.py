"""Decide whether a parsed message is a person's mail or a robot's (step 4 of the pipeline). Pure.

Modelled on GNU Mailman's rules: each rule is a small named object with a one-line description,
a verdict, and one `check(mail, ctx)` that returns the reason it hit (or None). Their order lives
in the one table RULES: loops and our own mail first, then forged mail, bounces and reports,
auto-replies, challenge-response robots, mailing lists, and no-reply senders last. `screen`
runs every rule, keeps every hit for the audit trail, and returns the verdict of the first.

A false hit is the expensive error here: a real person's request screened as a robot opens no
case. So signals that ordinary mail also carries (X-Auto-Response-Suppress, a bounce-like
subject, a null Return-Path) count only together with another robot signal; see each rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inbox_bot.values import SCREEN_REQUEST, InboundMail, RuleHit, ScreenResult


@dataclass(frozen=True)
class ScreenContext:
    """What screening needs to know about us."""

    own_address: str  # the mailbox's own address, normalised
    own_domain: str  # the organisation's mail domain, lower-case
    message_id_domain: str  # the domain of the Message-IDs we generate
    loop_header: str = "X-Inbox-Bot-Loop"
    dpo_addresses: tuple[str, ...] = ()  # normalised
    trusted_authserv_id: str | None = None  # our own mail server's Authentication-Results id

    @classmethod
    def from_settings(cls, settings) -> "ScreenContext":
        from inbox_bot.parsing import normalise_address

        org = settings.organisation
        own = normalise_address(org.address) or org.address.strip().lower()
        own_domain = own.rpartition("@")[2]
        dpo = tuple(a for a in (normalise_address(x) for x in org.dpo) if a)
        return cls(
            own_address=own,
            own_domain=own_domain,
            message_id_domain=(org.message_id_domain or own_domain).lower(),
            loop_header=settings.replies.loop_header,
            dpo_addresses=dpo,
            trusted_authserv_id=settings.approval.authserv_id,
        )


class Rule:
    """One screening rule. Subclasses set the three names and implement check()."""

    name: str = ""
    description: str = ""
    verdict: str = ""

    def check(self, mail: InboundMail, ctx: ScreenContext) -> str | None:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Rule {self.name} -> {self.verdict}>"


# ---------------------------------------------------------------------------------------------
# Shared readings of a message.

_ROBOT_LOCAL = re.compile(r"^(?:mailer-?daemon|post_?master|mail-?daemon|microsoftexchange[0-9a-f]*)$", re.I)
_ROBOT_DISPLAY = re.compile(
    r"^\W*(?:mail\s+delivery\s+(?:subsystem|system|service)|mail\s+administrator|mailer-?daemon"
    r"|postmaster|microsoft\s+outlook|delivery\s+status\s+notification|system\s+administrator)\W*$",
    re.I,
)
_NOREPLY_LOCAL = re.compile(
    r"(?:^|[-_.+])(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply|bounces?|mailer)(?:$|[-_.+=])",
    re.I,
)
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|odp|sv|vs|antw|fw|fwd|wg|tr|pd|rv|r)\s*(?:\[\d+\])?\s*:\s*)+", re.I)

_AUTO_REPLY_SUBJECT = re.compile(
    r"""^\W*(?:
        out\sof\s(?:the\s)?office | automatic\s(?:reply|response) | auto(?:matic)?[\s-]?(?:reply|response|respons)
      | autosvar | autoreply | abwesenheitsnotiz | abwesenheit | automatische\s(?:antwort|rückantwort)
      | odpowiedź\sautomatyczna | odpowiedz\sautomatyczna | automatyczna\sodpowied[źz] | nieobecno[śs][ćc]
      | jestem\snieobecn | vacation\s(?:reply|notice|message) | on\svacation | away\sfrom\s(?:the\s)?office
      | réponse\sautomatique | absence | respuesta\sautom[aá]tica | fuera\sde\s(?:la\s)?oficina
      | risposta\sautomatica | fuori\ssede | automatisch\santwoord | afwezig | poissa | fraværende
      | auto: | away\suntil
    )""",
    re.I | re.X,
)
_AUTO_REPLY_SUBJECT_SUFFIX = re.compile(r"\((?:automatic|auto)\s(?:response|reply)\)\s*$", re.I)

_BOUNCE_SUBJECT = re.compile(
    r"""^\W*(?:
        undeliver(?:ed|able) | delivery\s(?:status\snotification|failure|has\sfailed|notification|report|problem)
      | mail\sdelivery\s(?:failed|failure|system|subsystem) | returned\smail | failure\snotice
      | message\s(?:not\sdelivered|delivery\sfailure|could\snot\sbe\sdelivered|delayed)
      | delayed\smail | warning:\s(?:could\snot\ssend|message\sdelayed|delayed) | mail\ssystem\serror
      | nondeliverable | non[-\s]?delivery | unzustellbar | nicht\szustellbar | non\sremis | non\sdistribuable
      | niedostarczon[ae] | niedoręczon[ae] | nie\sdostarczono | nie\smożna\sdostarczyć | zwrot\s(?:poczty|wiadomo)
      | zwrot\b | zwrócon[ae]\s(?:poczta|wiadomo) | email\sbounce | bounce | could\snot\ssend\smessage
      | returned\sto\ssender | unable\sto\sdeliver | delivery\sto\sthe\sfollowing
      | notificación\sde\sestado | não\sentregue | mensaje\sno\sentregado
    )""",
    re.I | re.X,
)
_BOUNCE_BODY = re.compile(
    r"could\s+not\s+be\s+delivered|delivery\s+(?:has\s+)?failed|permanent(?:ly)?\s+(?:error|fail)|"
    r"undeliverable|user\s+unknown|mailbox\s+(?:unavailable|full|not\s+found)|\b5\.\d\.\d+\b|\b550\b|"
    r"nie\s+(?:może|mogła|została|zostala)\s+(?:zostać\s+)?dostarczon|nie\s+dostarczono|niedostarczon|"
    r"returned\s+to\s+sender|delivery\s+status\s+notification|unzustellbar|not\s+delivered",
    re.I,
)
_CHALLENGE_SUBJECT = re.compile(
    r"^\W*(?:please\sconfirm\s(?:your|that)\s|confirm\syour\s(?:e-?mail|message)|verify\syou\sare\sa?\s?human"
    r"|sender\sverification|verification\srequired|challenge[-\s]response|your\smessage\sis\sawaiting"
    r"|potwierd[źz]\s(?:swoj[aą]\s)?wiadomo[śs][ćc]|proszę\spotwierdzić|prosze\spotwierdzic)",
    re.I | re.X,
)
_CHALLENGE_DOMAINS = ("boxbe.com", "spamarrest.com", "mailblocks.com", "sendio.com", "bluebottle.com", "choicemail.com")
_CHALLENGE_HEADERS = ("x-boxbe-config", "x-boxbe-id", "x-spamarrest", "x-mailblocks", "x-sendio", "x-challenge")
_JMRP_SUBJECT = re.compile(r"^\s*complaint about message from \d{1,3}(?:\.\d{1,3}){3}\s*$", re.I)
_LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post", "list-subscribe", "list-help", "list-owner",
                 "list-archive", "mailing-list", "x-mailing-list", "x-mlserver", "x-ml-name", "x-loop-list")
_LIST_LOCAL = re.compile(r"^owner-|-(?:owner|request|bounces?|admin)(?:\+.*)?$", re.I)
_PASS = re.compile(r"\b(dkim|spf|dmarc)\s*=\s*pass\b([^;]*)", re.I)
_PROP_DOMAIN = re.compile(r"\b(?:header\.d|header\.i|smtp\.mailfrom|header\.from)\s*=\s*(?:[^\s;@]*@)?([A-Za-z0-9.-]+)", re.I)


def _local(address: str | None) -> str:
    return (address or "").rpartition("@")[0] if address and "@" in address else (address or "")


def _domain(address: str | None) -> str:
    return (address or "").rpartition("@")[2].lower() if address and "@" in address else ""


def _header_address(mail: InboundMail) -> str:
    """The address part of the From header as written, for robots whose address is not valid."""
    match = re.search(r"<([^<>]*)>", mail.sender_header)
    return (match.group(1) if match else mail.sender_header).strip().lower()


def _in_domain(domain: str, org: str) -> bool:
    return bool(domain) and bool(org) and (domain == org or domain.endswith("." + org))


def _robot_sender(mail: InboundMail) -> bool:
    local = _local(mail.sender) or _header_address(mail).partition("@")[0]
    return bool(_ROBOT_LOCAL.match(local)) or bool(_ROBOT_DISPLAY.match(mail.display_name or ""))


def _auto_submitted(mail: InboundMail) -> str | None:
    for value in mail.header("auto-submitted"):
        token = value.split(";")[0].strip().lower()
        if token and token != "no":
            return token
    return None


def _passes(mail: InboundMail, authserv_id: str | None, from_domain: str) -> list[str]:
    """Authentication-Results passes (dkim/spf/dmarc) aligned with the From domain.

    With `authserv_id`, only results stamped by that server count: anyone can write an
    Authentication-Results header, only our own server's is trustworthy (RFC 8601 section 5).
    """
    found: list[str] = []
    for value in mail.header("authentication-results"):
        server = value.split(";")[0].strip().split()[0].lower() if value.strip() else ""
        if authserv_id is not None and server != authserv_id.lower():
            continue
        for method, props in _PASS.findall(value):
            domains = [d.lower().rstrip(".") for d in _PROP_DOMAIN.findall(props)]
            # An aligned pass only: a forger's own domain passing DKIM proves nothing about ours.
            if domains and from_domain and not any(_in_domain(d, from_domain) or _in_domain(from_domain, d) for d in domains):
                continue
            found.append(method.lower())
    return found


# ---------------------------------------------------------------------------------------------
# Own mail and forgeries.


class LoopHeaderRule(Rule):
    name = "loop_header"
    description = "The message carries our own loop header: it is (a copy of) mail we sent."
    verdict = "own_mail"

    def check(self, mail, ctx):
        if mail.header(ctx.loop_header):
            return f"header {ctx.loop_header} present"
        return None


class SpoofRule(Rule):
    name = "spoof"
    description = "From claims our mailbox, the DPO or the organisation, without authentication to show for it."
    verdict = "spoof"

    def check(self, mail, ctx):
        sender = mail.sender
        if not sender:
            return None
        claims_own = sender == ctx.own_address
        claims_dpo = sender in ctx.dpo_addresses
        claims_org = _in_domain(_domain(sender), ctx.own_domain)
        if ctx.trusted_authserv_id:
            # Our own server's verdict is available: any mail claiming to be from us must pass.
            if (claims_own or claims_dpo or claims_org) and not _passes(mail, ctx.trusted_authserv_id, _domain(sender)):
                return f"From in the organisation's domain without dkim/spf pass from {ctx.trusted_authserv_id}"
            return None
        # No trusted authserv-id: we cannot verify. Mail from our own mailbox is then own_mail
        # (the next rules), colleagues in the domain are people; only a claimed DPO address
        # with no pass of any kind in any Authentication-Results is treated as forged, since
        # a DPO address is what an approval forger would use.
        if claims_dpo and not claims_own and not _passes(mail, None, _domain(sender)):
            return "From claims a DPO address and carries no authentication pass at all"
        return None


class OwnAddressRule(Rule):
    name = "own_address"
    description = "From is the mailbox's own address."
    verdict = "own_mail"

    def check(self, mail, ctx):
        if mail.sender and mail.sender == ctx.own_address:
            return "From is our own address"
        return None


class OwnMessageIdRule(Rule):
    name = "own_message_id"
    description = "The Message-ID is in our domain and the sender is in the organisation's domain."
    verdict = "own_mail"

    def check(self, mail, ctx):
        # Only the shape inbox-bot itself writes (32 hex digits @ our domain): a colleague's mail
        # client also writes Message-IDs in the company's domain, and an employee's own
        # request to the DPO must not be taken for our mail.
        mid = (mail.message_id or "").strip("<>").lower()
        left, _, domain = mid.rpartition("@")
        if domain == ctx.message_id_domain.lower() and _OUR_ID.fullmatch(left):
            if mail.sender is None or _in_domain(_domain(mail.sender), ctx.own_domain):
                return "Message-ID written by inbox-bot"
        return None


_OUR_ID = re.compile(r"[0-9a-f]{32}")


# ---------------------------------------------------------------------------------------------
# Bounces and reports.


class DeliveryStatusRule(Rule):
    name = "delivery_status"
    description = "A delivery status notification (RFC 3464): report-type=delivery-status or a status part."
    verdict = "bounce"

    def check(self, mail, ctx):
        if mail.report_type in ("delivery-status", "global-delivery-status"):
            return f"multipart/report; report-type={mail.report_type}"
        for ctype in mail.part_types:
            if ctype in ("message/delivery-status", "message/global-delivery-status"):
                return f"{ctype} part"
        return None


class ReadReceiptRule(Rule):
    name = "read_receipt"
    description = "A message disposition notification (RFC 8098): a read receipt."
    verdict = "read_receipt"

    def check(self, mail, ctx):
        if mail.report_type in ("disposition-notification", "global-disposition-notification"):
            return f"multipart/report; report-type={mail.report_type}"
        for ctype in mail.part_types:
            if ctype in ("message/disposition-notification", "message/global-disposition-notification"):
                return f"{ctype} part"
        if re.match(r"^\W*(?:read|gelesen|lu|przeczytan[ae]|odczytan[ae]|leído|letto)\s*:", mail.subject, re.I) and (
            mail.header("original-recipient") or mail.return_path == ""
        ):
            return "read-notification subject"
        return None


class OtherReportRule(Rule):
    name = "other_report"
    description = "Any other machine report: abuse/feedback reports (ARF), DMARC and TLS reports."
    verdict = "bounce"

    def check(self, mail, ctx):
        if mail.report_type:
            return f"multipart/report; report-type={mail.report_type}"
        for ctype in mail.part_types:
            if ctype in ("message/feedback-report", "message/rfc822-headers", "text/rfc822-headers"):
                return f"{ctype} part"
        if mail.content_type == "multipart/report":
            return "multipart/report"
        # Microsoft's junk-mail reporting programme (JMRP) sends plain multipart/mixed complaints.
        if _JMRP_SUBJECT.match(mail.subject or "") and "message/rfc822" in mail.part_types:
            return "JMRP complaint"
        return None


class BounceSenderRule(Rule):
    name = "bounce_sender"
    description = "From MAILER-DAEMON, postmaster, a mail delivery subsystem or an Exchange NDR sender."
    verdict = "bounce"

    def check(self, mail, ctx):
        if _robot_sender(mail):
            return "From is a mail system"
        return None


class FailedRecipientsRule(Rule):
    name = "failed_recipients"
    description = "X-Failed-Recipients: Exim's mark on a bounce."
    verdict = "bounce"

    def check(self, mail, ctx):
        if mail.header("x-failed-recipients"):
            return "X-Failed-Recipients present"
        return None


class BounceSubjectRule(Rule):
    name = "bounce_subject"
    description = "A bounce subject together with a null Return-Path, no valid sender or bounce wording."
    verdict = "bounce"

    def check(self, mail, ctx):
        subject = mail.subject or ""
        if _REPLY_PREFIX.match(subject) or not _BOUNCE_SUBJECT.match(subject):
            return None
        # "Zwrot" is also a refund and "Undelivered parcel" a customer's complaint: a subject
        # alone is not enough.
        if mail.return_path == "" or mail.sender is None or _BOUNCE_BODY.search(mail.full_text[:20_000]):
            return "bounce subject with bounce evidence"
        return None


# ---------------------------------------------------------------------------------------------
# Auto-replies.


class AutoSubmittedRule(Rule):
    name = "auto_submitted"
    description = "RFC 3834 Auto-Submitted other than 'no'."
    verdict = "auto_reply"

    def check(self, mail, ctx):
        token = _auto_submitted(mail)
        return f"Auto-Submitted: {token}" if token else None


class AutoReplyHeaderRule(Rule):
    name = "auto_reply_header"
    description = "Vendor auto-reply headers: X-Autoreply, X-Autorespond, X-AutoReply-From, X-Mail-Autoreply, ..."
    verdict = "auto_reply"

    _NAMES = ("x-autoreply", "x-autorespond", "x-autoreply-from", "x-mail-autoreply", "x-autogenerated",
              "x-autoresponder", "x-vacation", "x-cr-hashedpuzzle-autoreply")

    def check(self, mail, ctx):
        for name in self._NAMES:
            for value in mail.header(name):
                if value.strip().lower() not in ("no", "false", "0"):
                    return f"{name} present"
        return None


class PrecedenceRule(Rule):
    name = "precedence_bulk"
    description = "Precedence: bulk, junk or auto_reply."
    verdict = "auto_reply"

    def check(self, mail, ctx):
        for value in mail.header("precedence"):
            token = value.strip().lower()
            if token in ("bulk", "junk", "auto_reply", "auto-reply"):
                return f"Precedence: {token}"
        return None


class AutoResponseSuppressRule(Rule):
    name = "auto_response_suppress"
    description = "X-Auto-Response-Suppress (All/OOF/AutoReply) together with another Exchange robot mark."
    verdict = "auto_reply"

    def check(self, mail, ctx):
        # Exchange and Outlook put X-Auto-Response-Suppress on mail that is not automatic at all
        # (meeting requests, mail sent through rules or to distribution lists, some add-ins), so
        # alone it would swallow a person's request. Exchange's own OOF replies also carry a null
        # Return-Path and X-MS-Exchange-Inbox-Rules-Loop or an auto-reply subject: require one.
        values = " ".join(mail.header("x-auto-response-suppress")).lower()
        if not values or not any(t in values for t in ("all", "oof", "autoreply")):
            return None
        if mail.return_path == "" or mail.header("x-ms-exchange-inbox-rules-loop"):
            return "X-Auto-Response-Suppress with a null Return-Path or an Exchange inbox-rule loop"
        if _AUTO_REPLY_SUBJECT.match(mail.subject or ""):
            return "X-Auto-Response-Suppress with an auto-reply subject"
        return None


class InboxRulesLoopRule(Rule):
    name = "exchange_rules_loop"
    description = "X-MS-Exchange-Inbox-Rules-Loop: mail sent by an Exchange inbox rule (OOF, forward rule)."
    verdict = "auto_reply"

    def check(self, mail, ctx):
        if mail.header("x-ms-exchange-inbox-rules-loop") and (
            mail.return_path == "" or _AUTO_REPLY_SUBJECT.match(mail.subject or "")
        ):
            return "X-MS-Exchange-Inbox-Rules-Loop on an auto-reply"
        return None


class AutoReplySubjectRule(Rule):
    name = "auto_reply_subject"
    description = "A subject that opens like an out-of-office or automatic reply, in any of our languages."
    verdict = "auto_reply"

    def check(self, mail, ctx):
        subject = mail.subject or ""
        # A person answering our acknowledgement writes "Re: ..."; auto-replies put their marker
        # first ("Automatic reply: Re: ..."), so a reply prefix means a person.
        if _REPLY_PREFIX.match(subject):
            if _AUTO_REPLY_SUBJECT_SUFFIX.search(subject):
                return "subject ends with (Automatic Response)"
            return None
        if _AUTO_REPLY_SUBJECT.match(subject):
            return "auto-reply subject"
        return None


# ---------------------------------------------------------------------------------------------
# Challenge-response, lists, no-reply senders, and the last bounce signal.


class ChallengeRule(Rule):
    name = "challenge"
    description = "A challenge-response system asking us to prove we are human."
    verdict = "challenge"

    def check(self, mail, ctx):
        for name in _CHALLENGE_HEADERS:
            if mail.header(name):
                return f"{name} present"
        for address in (mail.sender, mail.return_path, _header_address(mail)):
            domain = _domain(address)
            if any(_in_domain(domain, d) for d in _CHALLENGE_DOMAINS):
                return f"sender at a challenge-response service ({domain})"
        if _CHALLENGE_SUBJECT.match(mail.subject or "") and (
            mail.return_path == "" or _auto_submitted(mail) or _NOREPLY_LOCAL.search(_local(mail.sender))
        ):
            return "challenge subject from an automatic sender"
        return None


class MailingListRule(Rule):
    name = "mailing_list"
    description = "RFC 2369/2919 list headers (List-Id, List-Unsubscribe, List-Post, ...), Precedence: list, list-owner senders."
    verdict = "mailing_list"

    def check(self, mail, ctx):
        for name in _LIST_HEADERS:
            if mail.header(name):
                return f"{name} present"
        if any(v.strip().lower() == "list" for v in mail.header("precedence")):
            return "Precedence: list"
        if _LIST_LOCAL.search(_local(mail.sender)):
            return "list management address"
        return None


class NullReturnPathRule(Rule):
    name = "null_return_path"
    description = "A null Return-Path <> with a bounce or auto-reply subject or body."
    verdict = "bounce"

    def check(self, mail, ctx):
        # Some real mail systems deliver person-written mail with an empty envelope sender
        # (forwarders, mail-to-ticket gateways), so <> needs a second sign.
        if mail.return_path != "":
            return None
        if _BOUNCE_BODY.search(mail.full_text[:20_000]) or _BOUNCE_SUBJECT.match(mail.subject or ""):
            return "null Return-Path with bounce wording"
        return None


class NoReplyRule(Rule):
    name = "noreply"
    description = "The sender's local part says nobody reads replies: noreply, do-not-reply, bounce, mailer."
    verdict = "noreply"

    def check(self, mail, ctx):
        local = _local(mail.sender) or _header_address(mail).partition("@")[0]
        if local and _NOREPLY_LOCAL.search(local):
            return "no-reply sender"
        return None


RULES: tuple[Rule, ...] = (
    LoopHeaderRule(),
    SpoofRule(),
    OwnAddressRule(),
    OwnMessageIdRule(),
    DeliveryStatusRule(),
    ReadReceiptRule(),
    OtherReportRule(),
    BounceSenderRule(),
    FailedRecipientsRule(),
    BounceSubjectRule(),
    AutoSubmittedRule(),
    AutoReplyHeaderRule(),
    PrecedenceRule(),
    AutoResponseSuppressRule(),
    InboxRulesLoopRule(),
    AutoReplySubjectRule(),
    ChallengeRule(),
    MailingListRule(),
    NullReturnPathRule(),
    NoReplyRule(),
)


def screen(mail: InboundMail, ctx: ScreenContext, rules: tuple[Rule, ...] = RULES) -> ScreenResult:
    """The verdict of the first rule that hits ("request" when none does), with every hit for audit."""
    hits: list[RuleHit] = []
    for rule in rules:
        try:
            reason = rule.check(mail, ctx)
        except Exception as exc:  # a rule's bug must not lose the message; the hit records it
            reason = None
            hits.append(RuleHit(rule.name, "error", f"rule failed: {type(exc).__name__}"))
            continue
        if reason:
            hits.append(RuleHit(rule.name, rule.verdict, reason))
    verdict = next((h.verdict for h in hits if h.verdict != "error"), SCREEN_REQUEST)
    return ScreenResult(verdict=verdict, hits=tuple(hits))
