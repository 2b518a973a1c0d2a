"""Compose outgoing mail: render a kind of message from templates/, then build its bytes.

Two pure steps. `render` turns a kind ("acknowledgement", "refusal", ...), a language and a
context into a subject and bodies from the Jinja2 templates under `templates/<lang>/`; the legal
wording lives there, not here. `build_message` turns those texts and the threading facts into
RFC 5322 bytes (CRLF, UTF-8) that mail clients thread and other robots leave alone.

Message-IDs are handled WITHOUT angle brackets everywhere, as in inbox_bot.values: every
function here takes and returns bare ids (`abc@optingo.eu`) and adds the brackets only when it
writes a header.

Headers written by `build_message`: From, To, Subject (with the case reference), Date,
Message-ID, In-Reply-To, References, Auto-Submitted, X-Auto-Response-Suppress: All, the loop
header, MIME headers. No `Precedence`: it was never standardised (RFC 3834 replaced its use by
`Auto-Submitted`), and `Precedence: bulk` makes large providers file legally required mail as
bulk. Robots that only look at `Precedence` are covered by `X-Auto-Response-Suppress` (Exchange)
and `Auto-Submitted` (everyone else).
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib.util
import os
import re
import secrets
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from email import policy as email_policy
from email.errors import HeaderParseError
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from jinja2 import StrictUndefined, Undefined, pass_context

DEFAULT_TZ = "Europe/Warsaw"
TEMPLATES_ENV = "INBOX_BOT_TEMPLATES"

# Every kind of message inbox-bot writes. Each has <kind>.subject.j2 and <kind>.txt.j2 per
# language, and optionally <kind>.html.j2.
KINDS: tuple[str, ...] = (
    "acknowledgement",
    "optout_confirmation",
    "digest",
    "identity_request",
    "extension_notice",
    "rectification_done",
    "erasure_done",
    "restriction_done",
    "access_reply",
    "refusal",
    "objection_reply",
    "complaint_reply",
    "portability_reply",
    "breach_alert",
    "draft_for_approval",
)

AUTO_SUBMITTED_VALUES = frozenset({"auto-replied", "auto-generated"})

# How many ids a References header keeps: the first (the thread's root) and the latest ones.
# Long threads otherwise grow the header without bound; clients need only root and parent.
MAX_REFERENCES = 20


@dataclass(frozen=True)
class Rendered:
    """One message's texts, ready for build_message. `html` is None for text-only kinds."""

    subject: str
    text: str
    html: str | None


@dataclass(frozen=True)
class ReplyMarkers:
    """The lines between which a DPO edits a draft's text in their reply."""

    begin: str
    end: str


# One source for the markers: the draft_for_approval templates print these, and the approval
# parser should look for them (in either language, whatever the draft's language was).
REPLY_MARKERS: dict[str, ReplyMarkers] = {
    "pl": ReplyMarkers("=== POCZĄTEK ODPOWIEDZI ===", "=== KONIEC ODPOWIEDZI ==="),
    "en": ReplyMarkers("=== BEGIN REPLY ===", "=== END REPLY ==="),
}

# --- rendering ----------------------------------------------------------------------------

_NAME = re.compile(r"^[a-z][a-z_]*$")  # kinds and languages: never a path component like ".."

_MONTHS_PL_GENITIVE = (
    "stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca",
    "lipca", "sierpnia", "września", "października", "listopada", "grudnia",
)  # fmt: skip
_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def default_templates_dir() -> Path:
    """Where the templates are read from.

    `$INBOX_BOT_TEMPLATES` when set; else the repository's top-level templates/ when it exists
    (a checkout or an editable install); else the copy an installed wheel carries as the package
    `inbox_bot_templates` (pyproject.toml maps that package onto templates/). When none is
    there, the repository's path, so that a missing template names where it was looked for.
    """
    override = os.environ.get(TEMPLATES_ENV)
    if override:
        return Path(override)
    return _shipped_templates_dir()


def _shipped_templates_dir() -> Path:
    """The templates that come with the code: the checkout's, else the installed package's."""
    root = Path(__file__).resolve().parents[1]
    checkout = root / "templates"
    # pyproject.toml tells a checkout from site-packages, where another distribution may have
    # put a top-level templates/ folder of its own.
    if checkout.is_dir() and (root / "pyproject.toml").is_file():
        return checkout
    return _installed_templates_dir() or checkout


def _installed_templates_dir() -> Path | None:
    """The folder of the installed `inbox_bot_templates` package, or None when not installed."""
    # Without this, a real (non-editable) install looks for templates/ beside site-packages,
    # which does not exist, and every acknowledgement fails. Jinja's FileSystemLoader needs
    # real files on disk: a wheel installs package data as plain files, so the package's folder
    # is used as it is. The package has no __init__.py (templates/ holds only letters), and on
    # Python 3.11 importlib.resources.files() gives such a package as a MultiplexedPath, not a
    # filesystem path, so the folder is taken from the import spec's search locations.
    spec = importlib.util.find_spec("inbox_bot_templates")
    locations = spec.submodule_search_locations if spec is not None else None
    for location in locations or ():
        if Path(location).is_dir():
            return Path(location)
    return None


def _dir(templates_dir: Path | str | None) -> Path:
    return Path(templates_dir) if templates_dir is not None else default_templates_dir()


def available_languages(templates_dir: Path | str | None = None) -> set[str]:
    """Languages with at least one template: the names of templates/<lang>/ folders."""
    root = _dir(templates_dir)
    if not root.is_dir():
        return set()
    return {
        p.name
        for p in root.iterdir()
        if p.is_dir() and _NAME.match(p.name) and any(p.glob("*.subject.j2"))
    }


def has_template(kind: str, language: str, templates_dir: Path | str | None = None) -> bool:
    """True when `kind` can be rendered in `language` (its subject and text templates exist)."""
    return _has_template(_root(templates_dir), kind, language)


@functools.lru_cache(maxsize=1024)
def _has_template(root: str, kind: str, language: str) -> bool:
    if not (_NAME.match(kind) and _NAME.match(language)):
        return False
    return _has_files(root, language, kind, ("subject", "txt"))


# Templates do not change under a running daemon (the environment does not reload them either):
# looking for the files once per kind and language saves a dozen stat() calls per message.
@functools.lru_cache(maxsize=1024)
def _has_files(root: str, language: str, kind: str, parts: tuple[str, ...]) -> bool:
    return all(os.path.isfile(os.path.join(root, language, f"{kind}.{part}.j2")) for part in parts)


def pick_language(
    requested: str | None,
    kind: str,
    default: str,
    templates_dir: Path | str | None = None,
) -> str:
    """The request's language when `kind` exists in it, else `default`.

    `requested` may be a tag such as "pl-PL" or "EN"; only the primary subtag counts. "und" or
    an empty value means unknown and gives the default.
    """
    return _pick_language(_root(templates_dir), requested, kind, default)


# Bounded: `requested` comes from inbound mail. Asked for each acknowledgement and draft.
@functools.lru_cache(maxsize=1024)
def _pick_language(root: str, requested: str | None, kind: str, default: str) -> str:
    primary = (requested or "").strip().lower().replace("_", "-").split("-")[0]
    if primary and primary != "und" and _has_template(root, kind, primary):
        return primary
    return default


def _local(value: Any, tz_name: str) -> date | datetime:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises here: a missing date must not print as blank
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a datetime given to a template must be timezone-aware")
        return value.astimezone(ZoneInfo(tz_name))
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}")


def format_date(value: date | datetime, language: str, tz: str = DEFAULT_TZ) -> str:
    """A date as a letter writes it: "24 grudnia 2026 r." / "24 December 2026"; ISO otherwise."""
    d = _local(value, tz)
    d = d.date() if isinstance(d, datetime) else d
    if language == "pl":
        return f"{d.day} {_MONTHS_PL_GENITIVE[d.month - 1]} {d.year} r."
    if language == "en":
        return f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"
    return d.isoformat()


def format_datetime_local(value: datetime, language: str, tz: str = DEFAULT_TZ) -> str:
    """Date and local time: "24 grudnia 2026 r., godz. 14:30" / "24 December 2026, 14:30"."""
    moment = _local(value, tz)
    if not isinstance(moment, datetime):
        raise TypeError("expected a datetime")
    clock = moment.strftime("%H:%M")
    if language == "pl":
        return f"{format_date(moment, 'pl', tz)}, godz. {clock}"
    return f"{format_date(moment, language, tz)}, {clock}"


def _tz(ctx: Any) -> str:
    return ctx.get("timezone") or DEFAULT_TZ


@pass_context
def _f_date_pl(ctx, value):
    return format_date(value, "pl", _tz(ctx))


@pass_context
def _f_date_en(ctx, value):
    return format_date(value, "en", _tz(ctx))


@pass_context
def _f_datetime_pl(ctx, value):
    return format_datetime_local(value, "pl", _tz(ctx))


@pass_context
def _f_datetime_en(ctx, value):
    return format_datetime_local(value, "en", _tz(ctx))


@pass_context
def _f_localdate(ctx, value, language):
    return format_date(value, language, _tz(ctx))


@pass_context
def _f_localdatetime(ctx, value, language):
    return format_datetime_local(value, language, _tz(ctx))


@pass_context
def _f_days_until(ctx, value, now):
    """Calendar days from `now` to `value` on the local calendar (negative: overdue)."""
    a, b = _local(value, _tz(ctx)), _local(now, _tz(ctx))
    a = a.date() if isinstance(a, datetime) else a
    b = b.date() if isinstance(b, datetime) else b
    return (a - b).days


def _autoescape(name: str | None) -> bool:
    # Only HTML bodies are escaped; escaping a plain-text letter would print "&amp;" in it.
    return bool(name) and name.endswith(".html.j2")


class _Environment(jinja2.Environment):
    """A Jinja environment whose templates see its globals as one plain dict.

    Jinja gives every template a ChainMap of its own and the environment's globals, and walks it
    whole twice for each template rendered (including each included one): about a third of the
    time spent rendering a draft. A dict holding the same names renders the same text. It is a
    copy made when the template is loaded; ours are set before any template is, and never
    change after (Jinja's own documentation says not to).
    """

    def make_globals(self, d):
        return {**self.globals, **(d or {})}


@functools.lru_cache(maxsize=8)
def _environment(root: str) -> jinja2.Environment:
    env = _Environment(
        loader=jinja2.FileSystemLoader(root),
        undefined=StrictUndefined,  # a missing variable is an error, not a blank in a letter
        autoescape=_autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates do not change under a running daemon; checking each file's mtime on every
        # render was two stat() calls per template, a dozen per message over a backlog.
        auto_reload=False,
    )
    env.filters.update(
        date_pl=_f_date_pl,
        date_en=_f_date_en,
        datetime_pl=_f_datetime_pl,
        datetime_en=_f_datetime_en,
        localdate=_f_localdate,
        localdatetime=_f_localdatetime,
        days_until=_f_days_until,
    )
    env.globals["reply_markers"] = REPLY_MARKERS
    return env


def _root(templates_dir: Path | str | None) -> str:
    if templates_dir is not None:
        return os.fspath(templates_dir)
    return os.environ.get(TEMPLATES_ENV) or _DEFAULT_ROOT


_DEFAULT_ROOT = str(_shipped_templates_dir())  # the same place as default_templates_dir


def _env(templates_dir: Path | str | None) -> jinja2.Environment:
    return _environment(_real(_root(templates_dir)))


@functools.lru_cache(maxsize=64)
def _real(root: str) -> str:
    return os.path.realpath(root)


def render(
    kind: str,
    language: str,
    context: dict[str, Any],
    templates_dir: Path | str | None = None,
    *,
    timezone_name: str | None = None,
) -> Rendered:
    """Render one kind of message in one language.

    Each template documents the context it needs in its opening comment. Dates in the context
    are aware datetimes (or dates) and are shown on the local calendar of `timezone_name`
    (or of `context["timezone"]`, default Europe/Warsaw). A missing variable raises
    jinja2.UndefinedError; an unknown kind or language raises jinja2.TemplateNotFound.
    """
    subject_template, text_template, html_template = _templates(_root(templates_dir), kind, language)
    values = dict(context)
    values.setdefault("language", language)
    if timezone_name is not None:
        values["timezone"] = timezone_name
    values.setdefault("timezone", DEFAULT_TZ)

    subject = subject_template.render(values)
    text = text_template.render(values)
    html = html_template.render(values) if html_template is not None else None
    return Rendered(
        subject=" ".join(subject.split()),  # one line, whatever the template's whitespace
        text=_tidy_text(text),
        html=html,
    )


@functools.lru_cache(maxsize=256)
def _templates(root: str, kind: str, language: str) -> tuple[jinja2.Template, jinja2.Template, jinja2.Template | None]:
    """The subject, text and (when there is one) HTML templates of a kind in a language."""
    # Looked up once per folder, kind and language (templates do not change under a running
    # daemon, see _environment): asking the environment again cost a loader lookup per template.
    # A template that is not there raises, and an exception is not cached: the next call looks again.
    if not (_NAME.match(kind) and _NAME.match(language)):
        raise jinja2.TemplateNotFound(f"{language}/{kind}")
    env = _environment(_real(root))
    subject = env.get_template(f"{language}/{kind}.subject.j2")
    text = env.get_template(f"{language}/{kind}.txt.j2")
    html = env.get_template(f"{language}/{kind}.html.j2") if _has_files(root, language, kind, ("html",)) else None
    return subject, text, html


def _tidy_text(text: str) -> str:
    # Templates with conditional paragraphs leave runs of blank lines and trailing spaces;
    # a letter has at most one blank line between paragraphs and ends with one newline.
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def label_names(language: str, templates_dir: Path | str | None = None) -> dict[str, str]:
    """The request types in plain words, from templates/<lang>/_labels.j2 (`names`)."""
    module = _env(templates_dir).get_template(f"{language}/_labels.j2").module
    return dict(module.names)


# --- building the message -----------------------------------------------------------------

_MSG_ID = re.compile(r"^[\x21-\x7e]{1,250}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,75}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
_ADDRESS = re.compile(r"^[^\s@<>,;\"()\\]+@[^\s@<>,;\"()\\\[\]]+$")


def make_message_id(domain: str) -> str:
    """A new, unique Message-ID in our domain, without angle brackets: `<32 hex>@<domain>`.

    The 32 hex digits are a random (version 4) UUID's, as uuid.uuid4().hex writes them.
    """
    uuid4 = bytearray(random_bytes(16))
    # The version and variant bits uuid.UUID(version=4) sets: 122 random bits, as before.
    uuid4[6] = (uuid4[6] & 0x0F) | 0x40
    uuid4[8] = (uuid4[8] & 0x3F) | 0x80
    return f"{uuid4.hex()}@{_id_domain(domain)}"


@functools.lru_cache(maxsize=16)
def _id_domain(domain: str) -> str:
    # The organisation's one domain, checked once instead of a regex per outgoing message.
    domain = domain.strip().lower()
    if not domain or not re.fullmatch(r"[a-z0-9.-]+", domain):
        raise ValueError("a Message-ID domain must be a plain host name")
    return domain


class _RandomPool:
    """os.urandom drawn a few KB at a time and handed out in slices.

    Every outgoing message takes 16 random bytes for its Message-ID, and every draft 16 for its
    nonce: one getrandom() system call each was a visible part of processing a backlog. The bytes
    are the same kernel randomness; each byte is handed out once. A forked child starts with an
    empty pool (see os.register_at_fork below): it must never hand out the bytes its parent will.
    """

    CHUNK = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunk = b""
        self._used = 0

    def take(self, n: int) -> bytes:
        if n > self.CHUNK:
            return os.urandom(n)
        with self._lock:  # two threads must never get the same slice
            start = self._used
            if start + n > len(self._chunk):
                self._chunk, start = os.urandom(self.CHUNK), 0
            self._used = start + n
            return self._chunk[start:start + n]

    def reset(self) -> None:
        self._lock = threading.Lock()  # a lock held by another thread at fork stays held in the child
        self._chunk = b""
        self._used = 0


_POOL = _RandomPool()
os.register_at_fork(after_in_child=_POOL.reset)


def random_bytes(n: int) -> bytes:
    """`n` bytes from os.urandom, taken from a pool refilled a few KB at a time."""
    return _POOL.take(n)


def random_hex(nbytes: int) -> str:
    """As secrets.token_hex(nbytes): `nbytes` random bytes as 2 * nbytes hex digits."""
    return random_bytes(nbytes).hex()


def bare_message_id(value: str) -> str:
    """An id without surrounding whitespace and angle brackets."""
    return value.strip().removeprefix("<").removesuffix(">").strip()


def is_valid_message_id(value: str) -> bool:
    """A bare id we can safely write into a header: printable ASCII, no spaces or brackets.

    Ids come from inbound mail, that is from anyone; one with CR/LF, spaces or brackets in it
    could break the header it is written into.
    """
    return bool(_MSG_ID.match(value)) and "<" not in value and ">" not in value and "@" in value


def _decode_once(value: str) -> str:
    # Decode with the very parser the email package applies to a value it is given, so that
    # what we clean is what it would have written.
    try:
        return str(email_policy.default.header_factory("subject", value))
    except (HeaderParseError, LookupError, UnicodeError, ValueError, IndexError):
        return value


def _strip_controls(value: str) -> str:
    if value.isascii() and value.isprintable():
        # No control character in it (every ASCII one is unprintable), nor any line separator.
        return " ".join(value.split())
    chars = [" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in value]
    return " ".join("".join(chars).split())


def clean_header_text(value: str) -> str:
    """Header text that can never start a new header: no control or line-separator characters.

    The email package decodes RFC 2047 encoded words in any value it is given, so
    "=?utf-8?q?Hi=0D=0ABcc:_x@evil?=" would turn into a real CR LF and a Bcc header. So: decode
    encoded words as the email package would, turn every control character (C0, C1, U+2028,
    U+2029) into a space, collapse whitespace, and repeat until nothing changes (an encoded
    word may hide another).
    """
    value = _strip_controls(value)
    for _ in range(5):
        if "=?" not in value:
            return value
        decoded = _strip_controls(_decode_once(value))
        if decoded == value:
            return value
        value = decoded
    # Still changing after five rounds: nobody writes that by accident. Defuse what is left.
    return value.replace("=?", "= ?")


def check_address(value: str, what: str) -> str:
    """`value` stripped, when it is one plain address (no display name, no list); else ValueError."""
    value = value.strip()
    # A printable string has no control character: the per-character look is for the rest.
    if not _ADDRESS.match(value) or (not value.isprintable() and any(unicodedata.category(c) == "Cc" for c in value)):
        raise ValueError(f"{what} is not a single plain address")
    return value


def _fold_ids(ids: Sequence[str]) -> str:
    """`<a> <b> ...` folded before a line would pass 78 characters (the id itself is never cut)."""
    lines: list[str] = []
    current = ""
    for mid in ids:
        token = f"<{mid}>"
        if current and len(current) + 1 + len(token) > 66:  # room for "References: "
            lines.append(current)
            current = token
        else:
            current = f"{current} {token}" if current else token
    if current:
        lines.append(current)
    return "\n ".join(lines)


def thread_references(
    references: Sequence[str], in_reply_to: str | None, limit: int = MAX_REFERENCES
) -> tuple[str, ...]:
    """The References of a reply: the original's References, then its Message-ID.

    Invalid ids are dropped, duplicates kept once, and a long chain is cut to the first id
    (the thread's root) and the latest `limit - 1` ones.
    """
    ids: list[str] = []
    for raw in [*references, *([in_reply_to] if in_reply_to else [])]:
        mid = bare_message_id(raw)
        if is_valid_message_id(mid) and mid not in ids:
            ids.append(mid)
    if in_reply_to and bare_message_id(in_reply_to) in ids:
        # The parent must come last even if it also appeared earlier in the chain.
        parent = bare_message_id(in_reply_to)
        ids.remove(parent)
        ids.append(parent)
    if len(ids) > limit:
        ids = ids[:1] + ids[-(limit - 1):]
    return tuple(ids)


def build_message(
    *,
    from_addr: str,
    from_name: str,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    in_reply_to: str | None,
    references: Sequence[str],
    auto_submitted: str,
    loop_header: tuple[str, str] | None,
    case_reference: str | None,
    date: datetime | None = None,
) -> bytes:
    """The bytes of one outgoing message (CRLF line ends, UTF-8 bodies).

    `message_id`, `in_reply_to` and `references` are bare ids (brackets are tolerated and
    removed). `references` is the original's References; `in_reply_to`, when given, is added at
    the end. An invalid `in_reply_to` or reference is dropped, not written. `case_reference`
    is put in the subject as "[REF] " unless the subject already contains it. Subject and
    display name are cleaned of anything that could start a new header; addresses, the loop
    header and our own Message-ID are refused (ValueError) when malformed.
    """
    if auto_submitted not in AUTO_SUBMITTED_VALUES:
        raise ValueError(f"Auto-Submitted must be one of {sorted(AUTO_SUBMITTED_VALUES)}")
    from_addr = check_address(from_addr, "from_addr")
    to = check_address(to, "to")
    own_id = bare_message_id(message_id)
    if not is_valid_message_id(own_id):
        raise ValueError("message_id is not a valid Message-ID")

    clean_subject = clean_header_text(subject)
    if case_reference is not None:
        if not _REFERENCE.match(case_reference):
            raise ValueError("case_reference has characters a case reference never has")
        if case_reference not in clean_subject:
            clean_subject = f"[{case_reference}] {clean_subject}".rstrip()

    parent = bare_message_id(in_reply_to) if in_reply_to else None
    if parent is not None and not is_valid_message_id(parent):
        parent = None
    refs = thread_references(references, parent)

    when = date or datetime.now(timezone.utc)
    if when.tzinfo is None:
        raise ValueError("date must be timezone-aware")
    headers: list[tuple[str, str]] = [
        ("From", _mailbox_field(clean_header_text(from_name), from_addr)),
        ("To", to),
        ("Subject", _fold(_text_tokens(clean_subject), len("Subject: "))),
        ("Date", format_datetime(when.astimezone(timezone.utc))),
        ("Message-ID", f"<{own_id}>"),
    ]
    if parent:
        headers.append(("In-Reply-To", f"<{parent}>"))
    if refs:
        headers.append(("References", _fold_ids(refs).replace("\n", CRLF)))
    headers.append(("Auto-Submitted", auto_submitted))
    # Exchange and Outlook honour this instead of Auto-Submitted: no out-of-office, no receipt.
    headers.append(("X-Auto-Response-Suppress", "All"))
    if loop_header is not None:
        name, value = loop_header
        if not _HEADER_NAME.match(name):
            raise ValueError("loop header name is not a header field name")
        headers.append((name, _fold(_text_tokens(clean_header_text(value)), len(name) + 2)))
    headers.append(("MIME-Version", "1.0"))
    if html is None:
        headers.extend(_TEXT_PART_HEADERS["plain"])
        body = _qp_body(text)
    else:
        boundary = _boundary()
        headers.append(("Content-Type", f'multipart/alternative;{CRLF} boundary="{boundary}"'))
        body = b"".join((
            f"--{boundary}{CRLF}".encode("ascii"), _part("plain", text),
            f"{CRLF}--{boundary}{CRLF}".encode("ascii"), _part("html", html),
            f"{CRLF}--{boundary}--{CRLF}".encode("ascii"),
        ))
    head = "".join(f"{name}: {value}{CRLF}" for name, value in headers)
    _assert_headers_as_written(head, [name for name, _ in headers])
    return head.encode("ascii") + CRLF.encode("ascii") + body


# The headers are written by hand, not through EmailMessage and the default policy's header
# registry: that took 2.6 ms per outgoing message, a fifth of the processing of a backlog.
# What the registry did for us is done here: non-ASCII text and anything that looks like an
# encoded word go out as RFC 2047 encoded words, lines are folded, and the result is parsed back.
CRLF = "\r\n"
_ENCODED_WORD_BYTES = 45  # 60 base64 characters: "=?utf-8?b?...?=" stays within 75 (RFC 2047)
_ATOM_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
_TEXT_PART_HEADERS = {
    subtype: [("Content-Type", f'text/{subtype}; charset="utf-8"'), ("Content-Transfer-Encoding", "quoted-printable")]
    for subtype in ("plain", "html")
}


def _encoded_words(text: str) -> list[str]:
    """`text` as UTF-8 base64 encoded words, split between characters, each within 75 characters."""
    words: list[str] = []
    chunk = bytearray()
    for ch in text:
        b = ch.encode("utf-8", "surrogatepass")
        if len(chunk) + len(b) > _ENCODED_WORD_BYTES:
            words.append("=?utf-8?b?" + base64.b64encode(bytes(chunk)).decode("ascii") + "?=")
            chunk.clear()
        chunk += b
    if chunk or not words:
        words.append("=?utf-8?b?" + base64.b64encode(bytes(chunk)).decode("ascii") + "?=")
    return words


def _plain_word(word: str) -> bool:
    # A word written as it is: printable ASCII, nothing a reader would decode, foldable.
    return word.isascii() and word.isprintable() and "=?" not in word and len(word) <= 70


def _text_tokens(value: str) -> list[str]:
    """Unstructured header text (already cleaned, single spaces) as tokens to join with spaces.

    Runs of words that cannot be written plainly become encoded words together with the spaces
    between them, because a reader drops the whitespace between two adjacent encoded words.
    """
    tokens: list[str] = []
    run: list[str] = []
    for word in value.split(" "):
        if not word:
            continue
        if _plain_word(word):
            if run:
                tokens.extend(_encoded_words(" ".join(run)))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens.extend(_encoded_words(" ".join(run)))
    return tokens


def _fold(tokens: list[str], used: int) -> str:
    """Tokens joined by spaces, folded (CRLF + space) before a line would pass 78 characters."""
    out: list[str] = []
    width = used
    for token in tokens:
        if out and width + 1 + len(token) > 78:
            out.append(CRLF + " " + token)
            width = 1 + len(token)
        else:
            out.append(" " + token if out else token)
            width += len(token) + (1 if len(out) > 1 else 0)
    return "".join(out)


def _mailbox_field(display_name: str, addr: str) -> str:
    """`Name <addr>`: a quoted string when ASCII, encoded words otherwise; bare addr when no name."""
    if not display_name:
        return addr
    words = display_name.split(" ")
    if all(_plain_word(w) for w in words):
        if _ATOM_SPECIALS.search(display_name):
            display_name = '"' + display_name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        tokens = [display_name]
    else:
        tokens = _encoded_words(display_name)
    return _fold([*tokens, f"<{addr}>"], len("From: "))


def _qp_body(text: str) -> bytes:
    # Line ends normalised as EmailMessage.set_content does; binascii's quoted-printable is the C
    # one (the pure-Python encoder took longer than everything else here together).
    data = b"\n".join(text.encode("utf-8").splitlines()) + b"\n"
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


def _part(subtype: str, text: str) -> bytes:
    head = "".join(f"{name}: {value}{CRLF}" for name, value in _TEXT_PART_HEADERS[subtype])
    return head.encode("ascii") + CRLF.encode("ascii") + _qp_body(text)


def _boundary() -> str:
    # The email package's form; "=" is always encoded in quoted-printable bodies, so no body
    # line can ever equal the boundary.
    return "=" * 15 + f"{secrets.randbelow(10**19):019d}" + "=="


def _assert_headers_as_written(head: str, names: list[str]) -> None:
    # The last line of defence against header injection: read the way a mail parser reads it,
    # the header block must have exactly the header fields we set, no more. A surprise here is
    # our fault, not the sender's. Everything a parser could take for a line break besides CRLF
    # is refused first; then each line is what the email package's parser would make of it:
    # a field ("name:" in its header-line pattern) or a continuation (leading space or tab).
    # Parsing the block back with the package itself did the same at twice the cost of
    # building the message.
    if not head.isascii() or head.count("\n") != head.count(CRLF) or head.count("\r") != head.count(CRLF):
        raise ValueError("outgoing message headers changed when serialised; refusing to send")
    if len(head.splitlines()) != head.count(CRLF) or not head.endswith(CRLF):
        raise ValueError("outgoing message headers changed when serialised; refusing to send")
    found: list[str] = []
    for line in head[:-len(CRLF)].split(CRLF):
        if line[:1] in (" ", "\t") and found and line.strip():
            continue  # a folded line of the field before
        match = _FIELD_LINE.match(line)
        if match is None:
            raise ValueError("outgoing message headers changed when serialised; refusing to send")
        found.append(match.group(1).lower())
    if sorted(k.lower() for k in names) != sorted(found):
        raise ValueError("outgoing message headers changed when serialised; refusing to send")


# A header field's first line as email.feedparser recognises one: printable ASCII but the
# colon, then the colon (and, stricter than the parser, at least one character of name).
_FIELD_LINE = re.compile(r"([\041-\071\073-\176]+):")
