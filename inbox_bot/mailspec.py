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

import orjson

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
    document = {"format": FORMAT, **{name: getattr(spec, name) for name in _FIELDS}}
    if _flat(spec.context):
        # Every queued mail's spec goes through here, and the standard encoder after the walk
        # below took 16 µs of a spec of 1.4 KB; orjson takes 4 (dates through _orjson_tag).
        # Only a context of strings, integers, booleans, None, aware datetimes, dates and lists
        # of strings takes this way: the two encoders write the same text. Anything orjson refuses (an
        # integer over 64 bits, a string or int subclass) goes the standard way, which decides.
        try:
            return _orjson_dumps(document, default=_orjson_tag, option=_ORJSON_OPTIONS).decode("utf-8")
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
    return _encode(_tagged(document))


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


def _tagged(value: Any) -> Any:
    """`value` with its dates and aware datetimes as tagged objects, ready for the JSON encoder.

    Dict keys that are not strings would be turned into strings silently by the encoder, and a
    dict shaped like a tag would read back as a date: both are refused here, before encoding.
    Anything else without a JSON form (a naive datetime, an object) is left as it is for the
    encoder's `default` to refuse. Containers are copied only when something in them changes.
    """
    # One walk instead of a check of the containers followed by a Python callback per date from
    # inside the encoder: the spec of every queued message goes through here.
    kind = type(value)
    if kind is str or value is None or kind is bool or kind is int:
        return value
    if isinstance(value, dict):
        if _decode_object(value) is not value:
            raise NotStorable("a context dict shaped like a stored date")
        copy = None
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotStorable("a context key that is not a string")
            kind = type(item)
            if kind is str or item is None or kind is bool or kind is int:
                continue  # most of a context: nothing to look at
            if kind is datetime and item.tzinfo is not None:  # the other common value, done here
                new = {_DATETIME: item.isoformat(), "zone": getattr(item.tzinfo, "key", None)}
            else:
                new = _tagged(item)
            if new is not item:
                if copy is None:
                    copy = dict(value)
                copy[key] = new
        return value if copy is None else copy
    if isinstance(value, (list, tuple)):
        items = None
        for index, item in enumerate(value):
            new = _tagged(item)
            if new is not item:
                if items is None:
                    items = list(value)
                items[index] = new
        return value if items is None else items
    if isinstance(value, datetime):
        return value if value.tzinfo is None else _encode_value(value)
    if isinstance(value, date):
        return _encode_value(value)
    return value


def _flat(context: dict | None) -> bool:
    """A context orjson encodes as the standard encoder does after `_tagged`, to the character:
    no nested dict (which could be shaped like a tag), no float (orjson writes 1e-08 as 1e-8, and
    NaN as null where the standard encoder refuses it), no naive datetime, nothing else."""
    if context is None:
        return True
    if type(context) is not dict or _decode_object(context) is not context:
        return False
    for key, value in context.items():
        if type(key) is not str:
            return False
        kind = type(value)
        if kind is str or value is None or kind is bool or kind is int:
            continue
        if kind is datetime:
            if value.tzinfo is None:
                return False
        elif kind is list or kind is tuple:
            for item in value:
                if type(item) is not str:
                    return False
        elif kind is not date:
            return False
    return True


def _orjson_tag(value: Any) -> Any:
    """orjson's callback for what it passes through: the same tagged objects as `_tagged`."""
    if type(value) is datetime or type(value) is date:
        return _encode_value(value)  # NotStorable (a TypeError) for a naive datetime
    raise TypeError("not a date")  # a subclass or another type: the standard way decides


def _refuse(o: Any) -> Any:
    # Reached only for what `_tagged` left alone: a naive datetime or a value of another type.
    return _encode_value(o)


_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False, allow_nan=False, default=_refuse
)
_encode = _ENCODER.encode

# Dates and datetimes come to _orjson_tag (orjson's own form has no zone name); a subclass of
# str, int, dict or list too, so that it is refused there and takes the standard way.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
_orjson_dumps = orjson.dumps
