"""Data minimisation of stored mail: attachment content is kept only where the settings say so.

The bot keeps what it needs (art. 5(1)(c)): the headers and the text a person wrote are the
record of a request; an ID scan or a PDF invoice attached to it is not needed to track the
case, and the original stays in the mailbox's processed folder for the DPO. Each removed part
is replaced by a short text part naming its file name, type, size and SHA-256, so the record
still says what was there. Pure: bytes in, bytes out (strip_parsed: a parsed tree in, rewritten).
"""

from __future__ import annotations

import hashlib
from email import message_from_bytes
from email.message import Message
from email.policy import compat32

NOTE = "[attachment removed by inbox-bot: {name}, {ctype}, {size} bytes, sha256 {digest}]\n"


def decoded_payload(part: Message):
    """part.get_payload(decode=True), kept on the part for a second reader of the same tree.

    The walk of inbox_bot.parsing decodes an attachment to learn its size and strip_parsed
    decodes it again for its digest: for a message with a PDF that was two base64 decodes of
    megabytes. The copy is used only while the part still holds the same payload object under
    the same transfer encoding, so a part rewritten in between is decoded afresh. What the
    stdlib raises is raised (and nothing kept).
    """
    payload, encoding = part._payload, part.get("content-transfer-encoding")
    kept = part.__dict__.get("_inbox_bot_decoded")
    if kept is not None and kept[0] is payload and kept[1] == encoding:
        return kept[2]
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        part.__dict__["_inbox_bot_decoded"] = (payload, encoding, data)
    return data


def _is_attachment(part: Message) -> bool:
    if part.is_multipart():
        return False
    disposition = (part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
    if disposition == "attachment":
        return True
    ctype = part.get_content_type()
    # Inline images and other non-text parts carry no words of the requester.
    return part.get_filename() is not None or not (ctype.startswith("text/") or ctype.startswith("message/"))


def strip_attachments(raw: bytes, *, keep: bool = False, max_bytes: int = 10_000_000) -> bytes:
    """The message with attachment content replaced by a note; `raw` itself when nothing changes.

    With `keep`, attachments up to `max_bytes` each stay. On any doubt (a structure the parser
    cannot rebuild) the original bytes are returned: minimising must never lose the message.
    """
    try:
        msg = message_from_bytes(raw, policy=compat32)
    except Exception:  # noqa: BLE001 - keep the original whenever in doubt
        return raw
    return strip_parsed(msg, raw, keep=keep, max_bytes=max_bytes)


def strip_parsed(msg: Message, raw: bytes, *, keep: bool = False, max_bytes: int = 10_000_000) -> bytes:
    """strip_attachments for a message already parsed: `msg` must be the compat32 parse of `raw`.

    Spares the second parse of a message with attachments (10-20 ms for a large one) when the
    caller has the tree already (inbox_bot.parsing.parse_message_tree). `msg` is rewritten in
    place: read everything needed from it before. Same bytes out as strip_attachments(raw).
    """
    try:
        changed = False
        for part in msg.walk():
            if not _is_attachment(part):
                continue
            # The walk of parse_message_tree may have decoded this part already (its size).
            payload = decoded_payload(part) or b""
            if keep and len(payload) <= max_bytes:
                continue
            name = part.get_filename() or "unnamed"
            ctype = part.get_content_type()
            note = NOTE.format(name=name, ctype=ctype, size=len(payload), digest=hashlib.sha256(payload).hexdigest())
            for header in ("Content-Type", "Content-Transfer-Encoding", "Content-Disposition"):
                del part[header]
            part["Content-Type"] = 'text/plain; charset="utf-8"'
            part["Content-Transfer-Encoding"] = "8bit"
            part.set_payload(note.encode("utf-8", "replace").decode("utf-8"))
            changed = True
        if not changed:
            return raw
        out = msg.as_bytes()
        # A rebuilt message that no longer parses would be worse than a large one.
        message_from_bytes(out, policy=compat32)
        return out
    except Exception:  # noqa: BLE001 - keep the original whenever in doubt
        return raw
