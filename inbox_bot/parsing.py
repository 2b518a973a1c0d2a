"""Turn the raw bytes of one message into an InboundMail (step 3 of the pipeline). Pure: no I/O.

Mail arrives in every state: declared and mislabelled charsets, broken RFC 2047 words, deep or
bad MIME structure. The rule here is to salvage what can be read and note the rest as defects;
only a message with nothing usable in it (no bytes, no header at all) is a SenderError, which
sends it to quarantine with its raw bytes kept. Anything else the stdlib raises is caught at the
step where it can happen and replaced by a weaker reading, so one odd message never stops the
daemon.

The MIME structure is read with the stdlib parser under policy.compat32, not policy.default:
every header is decoded here by our own tolerant decoder anyway, and policy.default re-parses
Content-Type into header objects on each get_content_type() call, which cost 10 of 28 seconds
on the 1,338-message robustness corpus (2.3 s with compat32) and raises on some broken headers.

Addresses are normalised by `normalise_address`, which the suppression list uses as its key too.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser, Parser
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache

import html2text
from email_validator import EmailNotValidError, validate_email

from classifiers.language import detect_language
from classifiers.textprep import sender_text
from inbox_bot.errors import SenderError
from inbox_bot.minimise import decoded_payload
from inbox_bot.values import Attachment, InboundMail

MAX_HEADERS = 500  # a message with 100,000 headers must not cost us 100,000 decodes
MAX_PARTS = 300  # parts visited; the rest of a pathological tree is ignored
MAX_DEPTH = 20  # multipart nesting followed
MAX_HTML_CHARS = 1_000_000  # html2text is slow on megabytes of markup
MAX_IDS = 200  # References ids kept
MAX_RECIPIENTS = 500

# Report parts are the bounce/receipt machinery itself, not attachments of the sender's.
_REPORT_PARTS = frozenset(
    {
        "message/delivery-status",
        "message/global-delivery-status",
        "message/disposition-notification",
        "message/global-disposition-notification",
        "message/feedback-report",
        "text/rfc822-headers",
        "message/rfc822-headers",
        "text/rfc822-header",
    }
)

# Letters a Polish text is made of, and the characters that appear when Polish bytes are read
# in the wrong 8-bit charset (cp1250 read as latin-1 gives "¹³¿œŸ", iso-8859-2 gives "±¶¼").
_POLISH = frozenset("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ")
_MOJIBAKE = frozenset("¹³¿œŸ±¶¼¥£¯Œ¦¬ÆÊÑ")
_CR_LF = re.compile(r"[\r\n\x00]+")
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
# 8-bit header bytes the parser kept as lone surrogates (surrogateescape).
_SMUGGLED = re.compile("[\udc80-\udcff]")


def normalise_address(addr: str) -> str | None:
    """The canonical form of an email address, or None when it is not a valid one.

    `local@domain` with the domain in its normal (lower-case Unicode) form and the local part
    lower-cased as well. RFC 5321 lets a server treat local parts case-sensitively, but no
    mainstream provider does, and the suppression list keyed on this form must stop marketing
    to "Jan.Kowalski@x.pl" when "jan.kowalski@x.pl" opted out: erring towards "same person" is
    the safe side there. Never a DNS lookup. Addresses in the reserved ".test" domain pass
    (test_environment) so that fixtures may use them.
    """
    if not addr:
        return None
    candidate = _CR_LF.sub("", addr).strip().strip("<>").strip()
    if not candidate or "@" not in candidate or len(candidate) > 320:
        return None
    return _validated(candidate)


# email_validator costs ~0.08 ms a call and every message asks for its From and To; the To is
# nearly always our own mailbox and senders write again, so a bounded cache of this pure
# function saves most calls (0.16 ms a message on the generated backlog). Keys are at most 320
# characters (checked above), so the cache holds at most ~1.3 MB of text.
@lru_cache(maxsize=4096)
def _validated(candidate: str) -> str | None:
    try:
        result = validate_email(candidate, check_deliverability=False, test_environment=True)
    except (EmailNotValidError, UnicodeError, ValueError):
        return None
    return result.normalized.lower()


def _score_polish(text: str) -> int:
    good = sum(1 for ch in text if ch in _POLISH)
    bad = sum(1 for ch in text if ch in _MOJIBAKE or "\x80" <= ch <= "\x9f" or ch == "\ufffd")
    return good - 3 * bad


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Bytes to text: the declared charset when it fits, else UTF-8, else the likeliest 8-bit one.

    A declared us-ascii or iso-8859-1 is often a lie told by old clients about UTF-8 or cp1250
    bytes; latin-1 decodes anything, so for those a UTF-8 reading is tried first and the 8-bit
    readings compete on how Polish (and how little mojibake) they look.
    """
    charset = (declared or "").strip().strip('"').lower() or None
    if charset in ("us-ascii", "ascii", "ansi_x3.4-1968", "iso-8859-1", "latin-1", "latin1", "iso_8859-1"):
        try:
            return data.decode("ascii")
        except UnicodeDecodeError:
            pass
        charset_known = "latin-1"
    else:
        charset_known = None
        if charset:
            try:
                "".encode(charset)
                charset_known = charset
            except (LookupError, ValueError):
                charset_known = None
            if charset_known:
                try:
                    return data.decode(charset_known)
                except (UnicodeDecodeError, ValueError):
                    pass
                except Exception:  # codecs outside the stdlib's usual set may raise anything
                    pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    candidates = ["cp1250", "iso-8859-2"] + ([charset_known] if charset_known and charset_known != "utf-8" else [])
    best: tuple[int, int, str] | None = None
    for order, name in enumerate(reversed(candidates)):
        try:
            text = data.decode(name, errors="replace")
        except (LookupError, ValueError):
            continue
        key = (_score_polish(text), order, text)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is not None:
        return best[2]
    return data.decode("utf-8", errors="replace")


def _raw_to_str(value: object) -> str:
    """A raw header value as the parser stored it (8-bit bytes smuggled as surrogates) to text."""
    if not isinstance(value, str):
        try:
            value = str(value)
        except Exception:
            return ""
    # Nearly every header is plain ASCII: isascii() is one C pass, and the regex search is
    # another for the rest; a Python generator over the characters cost ~0.25 ms a message
    # (3.7 M steps over 2,000 generated messages).
    if not value.isascii() and _SMUGGLED.search(value):
        return decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    return value


def _clean(value: str) -> str:
    """One line: unfolded, CR/LF and NUL removed, so no decoded value can inject a header."""
    # Three C scans answer for nearly every value (~0.05 µs against ~0.7 µs for a sub that
    # finds nothing; ~40 calls a message): only a value holding one of the characters the
    # pattern matches can be changed by it.
    if "\n" in value or "\r" in value or "\x00" in value:
        value = _CR_LF.sub(" ", value)
    return value.strip()


def decode_header_value(raw: object) -> str:
    """A header value with RFC 2047 encoded words decoded, on one line. Broken words stay as written."""
    return _decode_words(_raw_to_str(raw))


def _decode_words(text: str) -> str:
    # decode_header returns a text without "=?" as one undecoded chunk, which comes out below
    # as _clean(text): answering that at once spares ~30,000 decode_header calls on 2,000
    # generated messages, where encoded words are rare.
    if "=?" not in text:
        return _clean(text)
    try:
        chunks = decode_header(text)
    except Exception:
        return _clean(text)
    out: list[str] = []
    previous_encoded = None
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            piece, encoded = chunk, False
        elif charset is None:
            piece, encoded = chunk.decode("raw-unicode-escape", errors="replace"), False
        else:
            piece, encoded = decode_bytes(chunk, charset), True
        # decode_header drops the whitespace around encoded words; put one space back between
        # an encoded word and plain text, as make_header does.
        if out and previous_encoded is not None and encoded != previous_encoded:
            if not out[-1].endswith(" ") and not piece.startswith(" "):
                out.append(" ")
        out.append(piece)
        previous_encoded = encoded
    return _clean("".join(out))


def _first_id(value: str | None) -> str | None:
    if not value:
        return None
    match = _ANGLE_ID.search(value)
    candidate = match.group(1) if match else (value.split() or [""])[0].strip("<>")
    candidate = _clean(candidate)
    if not candidate or len(candidate) > 998:
        return None
    return candidate


def _all_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    ids = _ANGLE_ID.findall(value) or [w.strip("<>") for w in value.split()]
    seen: list[str] = []
    for item in ids:
        item = _clean(item)
        if item and len(item) <= 998 and item not in seen:
            seen.append(item)
    return tuple(seen[-MAX_IDS:])


def _addresses(raw_values: list[str]) -> list[tuple[str, str]]:
    """(decoded display name, address) pairs from raw address header values."""
    if not raw_values:
        return []
    if sum(len(value) for value in raw_values) > _CACHED_ADDRESS_CHARS:
        return _read_addresses(raw_values)
    return list(_cached_addresses(tuple(raw_values)))


# getaddresses is pure Python and costs ~0.02 ms a header (0.04 ms a message on the generated
# backlog); the To header of a mailbox is nearly always the same and senders write again.
# Only short headers are cached, so that the cache stays within a few MB: a To header with 10,000
# recipients is read afresh each time.
_CACHED_ADDRESS_CHARS = 1_000


@lru_cache(maxsize=2048)
def _cached_addresses(raw_values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple(_read_addresses(list(raw_values)))


def _read_addresses(raw_values: list[str]) -> list[tuple[str, str]]:
    try:
        pairs = getaddresses(raw_values)
    except Exception:
        pairs = []
    result = [(decode_header_value(name), addr) for name, addr in pairs if addr]
    if not result:
        # getaddresses gives up on some malformed headers; an address-shaped token still counts.
        for raw in raw_values:
            match = re.search(r"[^\s<>\"',;:()]+@[^\s<>\"',;:()]+", raw)
            if match:
                name = raw[: match.start()].strip().strip('<"').strip()
                result.append((decode_header_value(name), match.group(0)))
    return result


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except Exception:
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return None


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "application/octet-stream"


def _payload_bytes(part: Message, keep: bool = False) -> bytes:
    """The decoded payload of a leaf part as bytes; `keep`: through decoded_payload, for a later reader."""
    try:
        data = decoded_payload(part) if keep else part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    try:
        raw = part.get_payload()
    except Exception:
        return b""
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


# get_content_charset and get_filename parse the whole parameter list of their header on every
# call (~7 µs each); nearly every part has no file name and no Content-Disposition, and a
# parameter can only be found if its name is written in the header (no character outside ASCII
# lower-cases to a letter of "name" or "charset"), so a search of the lower-cased header
# answers "none" without parsing it.
def _lacks_param(part: Message, header: str, param: str) -> bool:
    """True when `part` certainly has no `param` parameter in `header` (False: perhaps it has)."""
    value = part.get(header)
    return value is None or (isinstance(value, str) and param not in value.lower())


def _charset(part: Message) -> str | None:
    try:
        if _lacks_param(part, "content-type", "charset"):
            return None
        # get_content_charset reads only the first Content-Type header: its answer for one
        # value is the answer for every part carrying that value, and mail repeats a few
        # dozen of them ('text/plain; charset="UTF-8"', ...).
        value = part.get("content-type")
        if type(value) is str:
            charset = _CHARSETS.get(value, _UNKNOWN)
            if charset is _UNKNOWN:
                charset = part.get_content_charset()
                if len(_CHARSETS) < _MAX_CHARSETS:
                    _CHARSETS[value] = charset
            return charset
        return part.get_content_charset()
    except Exception:
        return None


_CHARSETS: dict[str, str | None] = {}  # a Content-Type value -> get_content_charset() of a part with it
_MAX_CHARSETS = 10_000
_UNKNOWN = object()


def _filename(part: Message) -> str | None:
    try:
        if _lacks_param(part, "content-disposition", "filename") and _lacks_param(part, "content-type", "name"):
            return None
        name = part.get_filename()
    except Exception:
        name = None
    if name is None:
        return None
    return decode_header_value(name) or None


def _attachment_name(part: Message, ctype: str) -> tuple[bool, str | None]:
    """(whether the leaf `part` is an attachment, its file name), the name read once."""
    if ctype in _REPORT_PARTS:
        return False, None
    name = _filename(part)
    if name:
        return True, name
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:
        disposition = ""
    if disposition == "attachment":
        return True, name
    return not (ctype.startswith("text/") or ctype.startswith("multipart/")), name


def _html_to_text(html: str) -> str:
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_links = False
    converter.ignore_emphasis = True
    try:
        return converter.handle(html[:MAX_HTML_CHARS])
    except Exception:
        return re.sub(r"<[^>]*>", " ", html[:MAX_HTML_CHARS])


def _html_text(part: Message) -> str:
    """The text of a text/html leaf part."""
    return _html_to_text(decode_bytes(_payload_bytes(part), _charset(part)))


# The kind of an HTML leaf not converted yet (_Walker.walk with html_later).
_HTML_LATER = "html-later"


class _Walker:
    """One pass over the MIME tree: part types, attachments, and the readable body."""

    def __init__(self) -> None:
        self.part_types: list[str] = []
        self.attachments: list[Attachment] = []
        self.defects: list[str] = []
        self.count = 0

    def note_defects(self, part: Message) -> None:
        for defect in getattr(part, "defects", ()) or ():
            name = type(defect).__name__
            if name not in self.defects and len(self.defects) < 50:
                self.defects.append(name)

    def text_of(self, part: Message, ctype: str) -> tuple[str, str]:
        """(text, kind) of a leaf part: kind is "plain", "html" or ""."""
        if ctype == "text/html":
            return _html_text(part), "html"
        if ctype.startswith("text/") and ctype != "text/rfc822-headers":
            return decode_bytes(_payload_bytes(part), _charset(part)), "plain"
        return "", ""

    def walk(self, part: Message, depth: int, html_later: bool = False) -> tuple[str, str]:
        """Visit `part` and below; return its body (text, kind).

        With `html_later`, a text/html leaf is visited but not converted: its kind is
        _HTML_LATER and the caller converts it (_html_text) only if it wants it.
        """
        if self.count >= MAX_PARTS:
            if "TooManyParts" not in self.defects:
                self.defects.append("TooManyParts")
            return "", ""
        self.count += 1
        ctype = _content_type(part)
        self.part_types.append(ctype)
        self.note_defects(part)
        if part.is_multipart():
            if depth >= MAX_DEPTH:
                if "TooDeep" not in self.defects:
                    self.defects.append("TooDeep")
                return "", ""
            try:
                children = list(part.get_payload() or [])
            except Exception:
                children = []
            if ctype == "message/rfc822":
                size = sum(len(_safe_bytes(c)) for c in children if isinstance(c, Message))
                self.attachments.append(Attachment(_filename(part), ctype, size))
                inner = [self.walk(c, depth + 1) for c in children if isinstance(c, Message)]
                # A forwarded message's text is kept aside: used only when nothing else is there.
                return "\n".join(t for t, _ in inner if t.strip()), "forwarded"
            if ctype == "multipart/alternative":
                # html2text costs ~0.3 ms a part, and nearly every alternative has a plain part
                # that wins over its HTML: its own HTML leaves are converted only when reached
                # below, in the same order of preference as before (plain, html, forwarded).
                leaves = [c for c in children if isinstance(c, Message)]
                bodies = [self.walk(c, depth + 1, html_later=True) for c in leaves]
                for wanted in ("plain", "html", "forwarded"):
                    for leaf, (text, kind) in zip(leaves, bodies):
                        if kind == _HTML_LATER and wanted == "html":
                            text, kind = _html_text(leaf), "html"
                        if kind == wanted and text.strip():
                            return text, kind
                return "", ""
            bodies = [self.walk(c, depth + 1) for c in children if isinstance(c, Message)]
            own = [t for t, k in bodies if k in ("plain", "html") and t.strip()]
            if own:
                return "\n\n".join(own), "plain"
            forwarded = [t for t, k in bodies if k == "forwarded" and t.strip()]
            return "\n\n".join(forwarded), "forwarded" if forwarded else ""
        attached, name = _attachment_name(part, ctype)
        if attached:
            self.attachments.append(Attachment(name, ctype, len(_payload_bytes(part, keep=True))))
            return "", ""
        if html_later and ctype == "text/html":
            return "", _HTML_LATER
        return self.text_of(part, ctype)


def _safe_bytes(message: Message) -> bytes:
    try:
        return message.as_bytes(policy=policy.compat32)
    except Exception:
        return b""


def _parse_structure(raw: bytes) -> tuple[Message, list[str]]:
    """The parsed message; on a parser failure, the headers alone over the raw body as text."""
    try:
        return _compat32_tree(raw), []
    except (RecursionError, Exception) as exc:  # the feedparser recurses on nested multiparts
        fallback = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
        return fallback, [f"ParserFailure:{type(exc).__name__}"]


# The structure pass below gives exactly the tree BytesParser(policy=compat32).parsebytes gives,
# more cheaply for the shapes nearly all mail has: a single part, and multiparts of leaf parts
# (multipart/alternative of plain and HTML, a letter with a PDF), also nested up to
# _NESTED_MULTIPARTS levels (an alternative beside a PDF: its megabytes of base64 went through
# the feedparser line by line, ~9 ms a message). The stdlib's
# feedparser hands every line of the message through Python generator code, and for every
# multipart it compiles a regex for that message's boundary, which the re cache never holds
# again (boundaries are unique): ~0.12 ms a multipart message, ~0.35 ms of its 0.48 ms parse
# in all. Here only header blocks go through the stdlib parser line by line; bodies are sliced
# as whole strings, and the boundary lines are found with one compiled pattern for all
# boundaries. Anything else (message/*, a digest, deeper nesting, a missing boundary, any defect
# a multipart level itself would record) is left to the stdlib parser, which reads it whole.
# tests/test_prepare_fast_parse.py compares the trees (headers, payloads, preamble, epilogue,
# defects) with the stdlib's on tricky inputs and a corpus slice.

# The rest of a boundary line after its "--boundary" head: feedparser's pattern
# "(--)?[ \t]*(\r\n|\r|\n)?$" on one line, here matched inside the body, where the line ends at
# its line end or at the end of the text.
_BOUNDARY_REST = re.compile(r"(?P<end>--)?[ \t]*(?:\r\n|\r|\n|\Z)")
# An empty line after a line end: the header block ends at or before it. The atomic groups
# keep a CRLF whole, so "a\r\nb" is not read as a line "a\r" and an empty line "\n".
_BLANK_LINE = re.compile(r"(?>\r\n|\r|\n)(?>\r\n|\r|\n)")


def _compat32_tree(raw: bytes) -> Message:
    """BytesParser(policy=compat32).parsebytes(raw), the same tree, read more cheaply."""
    # What BytesParser.parsebytes does first: bytes to text, 8-bit bytes kept as surrogates.
    text = raw.decode("ascii", "surrogateescape")
    end = _end_of_first_empty_line(text)
    # Shapes left to the stdlib parser at once, before any work is spent on them: a report (a
    # bounce, a receipt) and a digest hold message/* parts, as does a message/* itself. Any
    # header naming them sends the message there; a false alarm only costs the fast path.
    head = text[:end].lower() if end >= 0 else ""
    if end >= 0 and "multipart/report" not in head and "multipart/digest" not in head and "message/" not in head:
        top, body = _headers_and_body(text, end)
        maintype = top.get_content_maintype()
        if maintype == "multipart":
            tree = _flat_multipart(top, body) if body is not None else None
            if tree is not None:
                return tree
        elif maintype != "message":
            # The feedparser reads the body of a part that is neither multipart nor message/*
            # as one string, exactly as a headers-only parse does.
            return top
    return Parser(policy=policy.compat32).parsestr(text)


def _headers_and_body(text: str, end: int) -> tuple[Message, str | None]:
    """Parser(policy=compat32).parsestr(text, headersonly=True) and its body, sliced rather than read by line.

    `end` is _end_of_first_empty_line(text). The body is None when it was not sliced (then the
    message is the plain headers-only parse).
    """
    # The header block ends at the first line that is not a header line, and an empty line
    # never is one: parsing the text up to the first empty line reads the same headers (and
    # the same defects). When that parse has no body, the header block ended at that empty
    # line, and the body is everything after it. (Not Message.get_payload(): it turns the
    # surrogates of 8-bit bytes into U+FFFD.)
    if end >= 0:
        head = _plain_header_block(text[:end])
        if head is None:
            head = Parser(policy=policy.compat32).parsestr(text[:end], headersonly=True)
        if head.get_payload() == "":
            body = text[end:]
            head.set_payload(body)
            return head, body
    return Parser(policy=policy.compat32).parsestr(text, headersonly=True), None


# What feedparser.headerRE lets through as the first line of a header, less "From " (an
# envelope line) and a line that starts with ":" (a defect): a field name and its colon.
_FIELD_NAME = re.compile(r"[\041-\071\073-\176]+:")


def _plain_header_block(head: str) -> Message | None:
    """Parser(policy=compat32).parsestr(head, headersonly=True) for a header block with nothing odd; None otherwise.

    `head` ends with its empty line. The feedparser hands each line through generator code and
    a regex (~2 µs a line, a fifth of the parse of a message); here the block is split once.
    Taken only when every line is a "name:" line or a continuation of one, lines end in LF or
    CRLF (no lone CR, another line end to the feedparser) and the first line is no
    continuation: then the feedparser records no defect and no envelope line, and stores
    each header as compat32.header_source_parse makes it of the same lines, as done here.
    tests/test_prepare_fast_parse.py compares the two on odd blocks and the corpora.
    """
    if "\r" in head and head.count("\r") != head.count("\r\n"):
        return None
    lines = head.split("\n")
    # The block's last two pieces: its empty line ("" or a lone "\r" of a CRLF) and "" after it.
    if len(lines) < 3 or lines[-1] or lines[-2] not in ("", "\r"):
        return None
    message = Message(policy.compat32)
    source_parse = policy.compat32.header_source_parse
    current: list[str] = []
    for line in lines[:-2]:
        first = line[:1]
        if first == " " or first == "\t":
            if not current:
                return None  # a continuation first: the feedparser notes a defect
            current.append(line + "\n")
            continue
        if line.startswith("From ") or not _FIELD_NAME.match(line):
            return None  # an envelope line, an empty name, or the body begins: the feedparser's cases
        if current:
            message.set_raw(*source_parse(current))
        current = [line + "\n"]
    if current:
        message.set_raw(*source_parse(current))
    message.set_payload("")
    return message


def _end_of_first_empty_line(text: str) -> int:
    """Where the first empty line after a line end ends in `text` (as the feedparser splits lines); -1 if none."""
    # Mail uses CRLF or LF: an empty line is then "\n" followed by "\n" or "\r\n", which two C
    # searches find (~1 µs; _BLANK_LINE's scan costs ~20 µs on a long header block). A lone CR
    # (a line end of its own to the feedparser) before that point sends the text to the regex.
    lf = text.find("\n\n")
    crlf = text.find("\n\r\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        end = crlf + 3
    elif lf >= 0:
        end = lf + 2
    else:
        end = -1
    head = text if end < 0 else text[:end]
    if head.count("\r") == head.count("\r\n"):
        return end
    blank = _BLANK_LINE.search(text)
    return blank.end() if blank else -1


# Multiparts inside multiparts read by the route below (a letter with an attachment whose text
# part is a multipart/alternative); deeper trees go to the stdlib parser.
_NESTED_MULTIPARTS = 3


def _flat_multipart(top: Message, body: str, depth: int = 0) -> Message | None:
    """`top` (a headers-only multipart with this body) completed as the feedparser would; None when not flat.

    Follows feedparser._parsegen's multipart branch for the case with nothing odd in it: a
    boundary, a transfer encoding allowed on a multipart, a first boundary line, parts between
    single boundary lines, a closing boundary line, no part that is multipart or message/*.
    A boundary line is a line (the feedparser's: ended by CRLF, CR or LF) that starts with
    "--boundary"; each part's text is what lies between two of them, read by _headers_and_body
    as the feedparser reads a part up to the next boundary line.
    """
    if top.get_content_type() in ("multipart/digest", "multipart/report"):
        return None
    boundary = top.get_boundary()
    if not boundary:
        return None
    if str(top.get("content-transfer-encoding", "8bit")).lower() not in ("7bit", "8bit", "binary"):
        return None
    separator = "--" + boundary
    marks: list[tuple[int, int]] = []  # (start, end) of each inter-part boundary line
    close: tuple[int, int] | None = None
    pos = body.find(separator)
    while pos >= 0:
        if pos == 0 or body[pos - 1] in "\r\n":
            match = _BOUNDARY_REST.match(body, pos + len(separator))
            if match:
                if match.group("end"):
                    close = (pos, match.end())
                    break
                marks.append((pos, match.end()))
        pos = body.find(separator, pos + 1)
    if close is None or not marks:
        return None
    marks.append(close)
    # Every part's header block is looked at before any is parsed, so that a nested multipart
    # or an attached message (for the stdlib parser) costs a few string searches, not parses.
    texts: list[tuple[str, int]] = []
    for (_start, after), (following, _end) in zip(marks, marks[1:]):
        if following == after:
            # Repeated boundary lines: the feedparser skips them (no part). Rare; left to it.
            return None
        text = body[after:following]
        end = _end_of_first_empty_line(text)
        if end < 0:
            return None
        head = text[:end].lower()
        if "message/" in head or "multipart/digest" in head or ("multipart/" in head and depth >= _NESTED_MULTIPARTS):
            return None
        texts.append((text, end))
    parts: list[Message] = []
    for text, end in texts:
        part, payload = _headers_and_body(text, end)
        if payload is None or part.get_content_maintype() == "message":
            return None
        if part.get_content_maintype() == "multipart":
            # Read as the feedparser reads a nested multipart: its parts, preamble and epilogue
            # as at the top, then the line end before our next boundary line taken off its
            # epilogue (the feedparser's "last" message is the nested multipart itself), or an
            # empty epilogue made None.
            if _flat_multipart(part, payload, depth + 1) is None:
                return None
            part.epilogue = None if part.epilogue == "" else _without_line_end(part.epilogue)
        else:
            # RFC 2046: the line end before a boundary line belongs to the boundary.
            part.set_payload(_without_line_end(payload))
        parts.append(part)
    if marks[0][0] > 0:
        top.preamble = _without_line_end(body[: marks[0][0]])
    top.set_payload(parts)
    top.epilogue = body[close[1] :]
    return top


def _without_line_end(text: str) -> str:
    """`text` less one final CRLF, CR or LF (feedparser's NLCRE_eol), without a regex scan of it."""
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith(("\r", "\n")):
        return text[:-1]
    return text


# Header names as written -> their key (cleaned, lower-cased): a mailbox uses a few hundred
# names, and working each one out again was a tenth of reading the headers. Bounded, so that a
# flood of made-up names cannot grow it without end; beyond the bound names are worked out.
_HEADER_KEYS: dict[str, str] = {}
_MAX_HEADER_KEYS = 10_000


def mail_language(subject: str, text: str) -> str:
    """The language of a message from its subject and the sender's own text ("und" when unknown).

    One definition for parse_message and for callers that parsed with detect=False and detect
    later (inbox_bot.prepare), so that both readings give the same answer.
    """
    return detect_language(f"{subject}\n{text}")


def parse_message(raw: bytes, *, max_text_chars: int = 200_000, detect: bool = True) -> InboundMail:
    """Parse a raw RFC 5322 message into an InboundMail.

    Raises SenderError only when nothing usable is there: empty input or no header at all.
    Every other oddity is recorded in `defects` and parsing goes on. With detect=False the
    language is not detected and reads "und" (mail_language gives it later when needed).
    """
    return parse_message_tree(raw, max_text_chars=max_text_chars, detect=detect)[0]


def parse_message_tree(
    raw: bytes, *, max_text_chars: int = 200_000, detect: bool = True
) -> tuple[InboundMail, Message | None]:
    """parse_message, and the stdlib's compat32 parse of `raw` it read, for a caller that needs it too.

    The tree is exactly what BytesParser(policy=compat32).parsebytes(raw) gives, unchanged by
    the walk over it (inbox_bot.minimise.strip_parsed rewrites it in place afterwards instead of
    parsing again). The walk only reads, except that flattening a forwarded message (for its
    size) lets the stdlib give a multipart with an empty boundary a random one; flattening the
    whole message for the minimised copy does the same to a fresh parse.
    None when the tree read is not that one: a byte-order mark or blank lines were cut off
    first, or the parser failed and only the headers were read.
    """
    if not isinstance(raw, (bytes, bytearray)):
        raise SenderError("a message must be bytes")
    raw = bytes(raw)
    if not raw.strip():
        raise SenderError("empty message")
    # A byte-order mark or blank lines before the first header (files saved by editors, some
    # export tools) would make the parser see a header-less body.
    body_start = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    body_start = body_start.lstrip(b"\r\n")
    try:
        message, defects = _parse_structure(body_start)
    except Exception as exc:
        raise SenderError(f"unparseable message: {type(exc).__name__}") from None
    # body_start is a suffix of raw: the same length means nothing was cut off.
    tree = message if len(body_start) == len(raw) and not defects else None
    try:
        raw_items = list(message.raw_items())[:MAX_HEADERS]
    except Exception:
        raw_items = []
    if not raw_items:
        raise SenderError("message has no headers")

    headers: list[tuple[str, str]] = []
    raw_by_name: dict[str, list[str]] = {}
    for name, value in raw_items:
        key = _HEADER_KEYS.get(name) if type(name) is str else None
        if key is None:
            key = _clean(_raw_to_str(name)).lower()
            if type(name) is str and len(_HEADER_KEYS) < _MAX_HEADER_KEYS:
                _HEADER_KEYS[name] = key
        text = _raw_to_str(value)
        raw_value = _clean(text)
        raw_by_name.setdefault(key, []).append(raw_value)
        # decode_header_value(value) without reading the raw value twice: with no encoded word
        # in it, the decoded value is the cleaned one (what _decode_words gives).
        headers.append((key, raw_value if "=?" not in text else _decode_words(text)))

    def first_raw(name: str) -> str | None:
        values = raw_by_name.get(name)
        return values[0] if values else None

    def first_decoded(name: str) -> str:
        for key, value in headers:
            if key == name:
                return value
        return ""

    from_raw = first_raw("from") or first_raw("sender") or ""
    from_pairs = _addresses([from_raw]) if from_raw else []
    display_name, sender = "", None
    if from_pairs:
        display_name = from_pairs[0][0]
        sender = normalise_address(from_pairs[0][1])

    reply_pairs = _addresses(raw_by_name.get("reply-to", []))
    reply_to = normalise_address(reply_pairs[0][1]) if reply_pairs else None

    recipients: list[str] = []
    for _name, addr in _addresses(raw_by_name.get("to", []) + raw_by_name.get("cc", []))[:MAX_RECIPIENTS]:
        normalised = normalise_address(addr)
        if normalised and normalised not in recipients:
            recipients.append(normalised)

    return_path_raw = first_raw("return-path")
    return_path = None
    if return_path_raw is not None:
        inner = return_path_raw.strip()
        match = re.search(r"<([^<>]*)>", inner)
        return_path = _clean(match.group(1) if match else inner).strip()

    walker = _Walker()
    try:
        body, _kind = walker.walk(message, 0)
    except RecursionError:
        body, _kind = "", ""
        walker.defects.append("TooDeep")
    if not walker.part_types:
        walker.part_types.append(_content_type(message))
    full_text = body.replace("\r\n", "\n").replace("\r", "\n")[:max_text_chars]

    # The walk's first entry is always the top part's type (read once: ~3 µs a header search).
    content_type = walker.part_types[0]
    report_type = None
    if content_type == "multipart/report":
        try:
            param = message.get_param("report-type")
        except Exception:
            param = None
        if isinstance(param, tuple):  # RFC 2231 form: (charset, language, value)
            param = param[2]
        report_type = _clean(str(param)).lower() if param else None

    subject = first_decoded("subject")
    text = sender_text(full_text)
    language = mail_language(subject, text) if detect else "und"

    mail = InboundMail(
        message_id=_first_id(first_raw("message-id")),
        sender=sender,
        sender_header=first_decoded("from") or first_decoded("sender"),
        display_name=display_name,
        reply_to=reply_to,
        return_path=return_path,
        recipients=tuple(recipients),
        subject=subject,
        text=text,
        full_text=full_text,
        language=language,
        in_reply_to=_first_id(first_raw("in-reply-to")),
        references=_all_ids(" ".join(raw_by_name.get("references", []))),
        headers=tuple(headers),
        content_type=content_type,
        report_type=report_type,
        part_types=tuple(walker.part_types),
        attachments=tuple(walker.attachments),
        date=_parse_date(first_raw("date")),
        size=len(raw),
        defects=tuple(defects + walker.defects),
    )
    return mail, tree


_HEADER_ID = re.compile(rb"^(?:Message-ID|Original-Message-ID|X-Original-Message-ID)[ \t]*:[ \t]*(?:\r?\n[ \t]+)?<([^<>\s]{1,900})>",
                        re.I | re.M)
_BOUNCE_SCAN_BYTES = 1_000_000


def bounced_message_ids(raw: bytes, message_id_domain: str, parsed: Message | None = None) -> tuple[str, ...]:
    """Message-IDs in our domain named in a bounce's returned headers or original message.

    A delivery status notification carries the bounced message's header block as a
    message/rfc822 or text/rfc822-headers part (or, from older servers, quoted in the text).
    Only the body is searched: the bounce's own header block says nothing about what bounced.
    Parts that are base64 or quoted-printable are decoded and searched too. Pure.
    `parsed`: BytesParser(policy=compat32).parsebytes(raw) when the caller has it already (as
    parse_message_tree gives it, before anything rewrites it), read instead of a second parse.
    """
    domain = message_id_domain.lower().strip()
    if not raw or not domain:
        return ()
    data = bytes(raw[:_BOUNCE_SCAN_BYTES])
    split = re.search(rb"\r?\n\r?\n", data)
    body = data[split.end():] if split else b""
    chunks = [body]
    try:
        if parsed is not None and len(raw) <= _BOUNCE_SCAN_BYTES:
            message = parsed
        else:
            message = BytesParser(policy=policy.compat32).parsebytes(data)
        for index, part in enumerate(message.walk()):
            if index > MAX_PARTS:
                break
            encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
            if encoding not in ("base64", "quoted-printable"):
                continue
            if part.is_multipart():
                # An encoded message/rfc822 (against RFC 2046, but sent): the parser has read the
                # encoded text as a message; take its bytes back and decode them ourselves.
                inner = part.get_payload()
                text = inner[0].as_bytes() if inner and isinstance(inner[0], Message) else b""
                if encoding == "base64":
                    import base64 as _b64

                    clean = re.sub(rb"[^A-Za-z0-9+/=]", b"", text)
                    chunks.append(_b64.b64decode(clean[: len(clean) // 4 * 4] or b"", validate=False))
                continue
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                chunks.append(payload[:_BOUNCE_SCAN_BYTES])
    except Exception:  # noqa: BLE001 - the raw search above still stands
        pass
    found: list[str] = []
    for chunk in chunks:
        for match in _HEADER_ID.findall(chunk):
            mid = match.decode("ascii", "replace")
            if mid.rpartition("@")[2].lower() == domain and mid not in found:
                found.append(mid)
    return tuple(found)
