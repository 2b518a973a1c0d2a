"""Logging set-up, and the redaction that keeps addresses and message text out of every log line.

Logs name case references, record ids and short hashes. A filter also scrubs anything that looks
like an email address from the final text, because a careless format string in some corner (or
in a library's exception message) must not leak a requester's address into a log shipper.
"""

from __future__ import annotations

import hashlib
import logging
import re

_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)


def fingerprint(value: str | bytes | None) -> str:
    """A short stable hash for logs: lets an operator correlate lines without seeing the value."""
    if value is None:
        return "-"
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()[:12]


def redact(text: str) -> str:
    return _ADDRESS.sub(lambda m: f"<addr:{fingerprint(m.group(0).lower())}>", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Exception texts from parsers and SMTP servers often quote addresses.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Library loggers (imapclient logs whole protocol lines at DEBUG) stay quiet.
    for noisy in ("imapclient", "aiosmtplib", "apscheduler", "mail.log", "pymap", "sqlalchemy", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
