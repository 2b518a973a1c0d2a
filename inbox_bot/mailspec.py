"""What an outgoing message is made of, kept as JSON in its outbox row until delivery builds it.

Queuing a message fixes everything about it: recipient, Message-ID, date, the threading ids,
the template kind and language and the values the template is given (or the DPO's own text).
The bytes are rendered and built from that when a delivery run takes the row, and stored in
the row before the first attempt to send, so a resend is still the very same bytes.

Why not build at queue time: rendering and building one message cost about as much as the rest
of processing the request it answers, and during a flood that work held up the register of
cases, whose clocks are running, for mail that waits in the outbox anyway.

The JSON holds plain values only: strings, numbers, booleans, None, lists, dicts with string
keys, dates and aware datetimes (with their zone's name, so a template shows local time as it
would have). A context with anything else cannot be stored (`NotStorable`); its message is
built at once instead (the digest, whose entries are objects).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from inbox_bot import compose

FORMAT = 1


class NotStorable(TypeError):
    """A value of the context has no JSON form here."""


@dataclass(frozen=True)
class MailSpec:
    """Everything `compose` needs for one message; `context` is None when `text` is given."""

    kind: str
    language: str
    context: dict[str, Any] | None
    subject: str | None
    text: str | None
    from_addr: str
    from_name: str
    to: str
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    auto_submitted: str
    loop_header: tuple[str, str] | None
    case_reference: str | None
    date: datetime


def build(spec: MailSpec) -> bytes:
    """The message's bytes: the template rendered (unless the text is given), then composed."""
    if spec.text is not None:
        subject, text, html = spec.subject or "", spec.text, None
    else:
        rendered = compose.render(spec.kind, spec.language, spec.context or {})
        subject, text, html = rendered.subject, rendered.text, rendered.html
    return compose.build_message(
        from_addr=spec.from_addr,
        from_name=spec.from_name,
        to=spec.to,
        subject=subject,
        text=text,
        html=html,
        message_id=spec.message_id,
        in_reply_to=spec.in_reply_to,
        references=spec.references,
        auto_submitted=spec.auto_submitted,
        loop_header=spec.loop_header,
        case_reference=spec.case_reference,
        date=spec.date,
    )


def dumps(spec: MailSpec) -> str:
    """The spec as JSON; NotStorable when its context holds a value of another kind."""
    # Tuples (references, the loop header) are written as JSON arrays; `loads` makes them tuples.
    return _ENCODER.encode({"format": FORMAT, **{name: getattr(spec, name) for name in _FIELDS}})


def loads(value: str) -> MailSpec:
    """A spec from `dumps`; ValueError when the JSON is not one."""
    document = json.loads(value, object_hook=_decode_object)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("not an outgoing message spec of a known format")
    values = {name: document[name] for name in _FIELDS}
    values["references"] = tuple(values["references"])
    loop = values["loop_header"]
    values["loop_header"] = (loop[0], loop[1]) if loop is not None else None
    return MailSpec(**values)


_FIELDS = tuple(field.name for field in fields(MailSpec))


# Tagged objects for what JSON has no type for. A dict of the context shaped exactly like a tag
# would read back as a date: it is refused (NotStorable) instead of being mistaken for one.
_DATETIME, _DATE = "$datetime", "$date"


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            # A naive datetime would render in whatever zone the deliverer assumes.
            raise NotStorable("a naive datetime in an outgoing message's context")
        return {_DATETIME: value.isoformat(), "zone": getattr(value.tzinfo, "key", None)}
    if isinstance(value, date):
        return {_DATE: value.isoformat()}
    raise NotStorable(f"a {type(value).__name__} in an outgoing message's context")


def _decode_object(obj: dict) -> Any:
    if len(obj) == 2 and _DATETIME in obj and "zone" in obj:
        moment = datetime.fromisoformat(obj[_DATETIME])
        return moment.astimezone(ZoneInfo(obj["zone"])) if obj["zone"] else moment
    if len(obj) == 1 and _DATE in obj:
        return date.fromisoformat(obj[_DATE])
    return obj


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        return _encode_value(o)

    def iterencode(self, o: Any, _one_shot: bool = False):
        # Dict keys that are not strings would be turned into strings silently, and a tuple
        # into a list: neither would render as it did. The check runs before encoding.
        _check_plain(o)
        return super().iterencode(o, _one_shot)


def _check_plain(value: Any) -> None:
    # Only containers are looked into: a context is mostly strings, and a call per string
    # cost more than encoding them.
    if isinstance(value, dict):
        if _decode_object(value) is not value:
            raise NotStorable("a context dict shaped like a stored date")
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotStorable("a context key that is not a string")
            if isinstance(item, (dict, list, tuple)):
                _check_plain(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, (dict, list, tuple)):
                _check_plain(item)


_ENCODER = _Encoder(ensure_ascii=False, separators=(",", ":"), check_circular=False, allow_nan=False)

