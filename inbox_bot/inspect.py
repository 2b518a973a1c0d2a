"""Screen and classify mail files for `inbox-bot classify`, without a mailbox or a database."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

from inbox_bot import classify
from inbox_bot.config import Settings
from inbox_bot.values import InboundMail


def _looks_like_mail(raw: bytes) -> bool:
    head = raw[:4096].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].lower()
    return any(head.startswith(h) or b"\n" + h in head for h in (b"from:", b"subject:", b"message-id:", b"received:", b"return-path:"))


def _text_mail(text: str) -> bytes:
    # A bare body (a letter saved as .txt) becomes a minimal message so that every file goes
    # through the same parser, language detection and text preparation as real mail.
    from email.message import EmailMessage
    from email.policy import SMTP

    msg = EmailMessage(policy=SMTP)
    msg["From"] = "requester@example.invalid"
    msg["Subject"] = ""
    msg.set_content(text)
    return msg.as_bytes()


def classify_files(settings: Settings, files: Sequence[Path]) -> Iterator[dict]:
    from inbox_bot.parsing import parse_message
    from inbox_bot.screening import ScreenContext, screen

    context = ScreenContext.from_settings(settings)
    parsed: list[tuple[Path, InboundMail | None, str]] = []
    for path in files:
        raw = path.read_bytes()
        if not _looks_like_mail(raw):
            raw = _text_mail(raw.decode("utf-8", "replace"))
        try:
            mail = parse_message(raw)
        except Exception as exc:  # noqa: BLE001 - an unparseable file is reported, not fatal
            parsed.append((path, None, f"unparseable: {type(exc).__name__}"))
            continue
        parsed.append((path, mail, screen(mail, context).verdict))
    requests = [m for _, m, verdict in parsed if m is not None and verdict == "request"]
    results = iter(classify.classify_many(settings, requests))
    for path, mail, verdict in parsed:
        if mail is not None and verdict == "request":
            c = next(results)
            yield {
                "file": str(path),
                "screen": verdict,
                "labels": list(c.labels),
                "language": c.language,
                "confidence": round(c.confidence, 4),
                "triage": c.triage,
                "model_version": c.model_version,
            }
        else:
            yield {
                "file": str(path),
                "screen": verdict if mail is not None else "unparseable",
                "labels": [],
                "language": mail.language if mail is not None else "und",
                "confidence": 1.0 if mail is not None else 0.0,
            }
