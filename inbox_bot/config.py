"""Load the TOML configuration into typed, immutable settings, and refuse bad ones early.

A missing required key, an unknown key or a value of the wrong type is a ConfigError that names
the key and the file, raised before anything connects anywhere.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The organisation used where a command works without a configuration file (demo, classify).
DEFAULT_ORGANISATION = {
    "name": "Optingo Digital Sp. z o.o.",
    "address": "iodo@optingo.eu",
    "dpo": ["dpo@optingo.eu"],
    "timezone": "Europe/Warsaw",
    "holidays": "PL",
    "default_language": "pl",
}


class ConfigError(Exception):
    """The configuration is unusable; the message names the file and the key."""


@dataclass(frozen=True)
class MailboxSettings:
    host: str
    username: str
    port: int = 993
    security: str = "tls"  # tls | starttls | none
    password: str | None = None
    password_env: str | None = None
    folder: str = "INBOX"
    processed_folder: str = "INBOX.Processed"
    sent_folder: str = "Sent"
    quarantine_folder: str = "INBOX.Quarantine"
    other_folder: str | None = None  # where mail that is not a request goes; None: stays
    idle: bool = True
    poll_interval: int = 60  # seconds between polls when IDLE is not used
    idle_timeout: int = 300  # seconds before an IDLE is renewed
    batch_size: int = 100  # messages fetched per FETCH command
    timeout: int = 60  # socket timeout in seconds
    unreachable_alert_minutes: int = 60
    tls_verify: bool = True
    tls_ca_file: str | None = None  # a CA bundle to verify the server against; None: the system's

    def secret(self) -> str:
        return _secret(self.password, self.password_env, "mailbox") or ""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"  # tls | starttls | none
    username: str | None = None
    password: str | None = None
    password_env: str | None = None
    timeout: int = 60
    tls_verify: bool = True
    tls_ca_file: str | None = None  # a CA bundle to verify the server against; None: the system's

    def secret(self) -> str | None:
        return _secret(self.password, self.password_env, "smtp")


@dataclass(frozen=True)
class OrganisationSettings:
    name: str
    address: str
    dpo: tuple[str, ...] = ()
    timezone: str = "Europe/Warsaw"
    holidays: str = "PL"
    default_language: str = "pl"
    message_id_domain: str | None = None  # default: the domain of `address`
    contact: str | None = None  # who a requester may contact; default: `address`

    @property
    def domain(self) -> str:
        return self.message_id_domain or self.address.rpartition("@")[2].lower()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///inbox-bot.db"


@dataclass(frozen=True)
class CasesSettings:
    reference_prefix: str = "IODO"
    identity_required: tuple[str, ...] = ("access", "portability", "erasure", "rectification")
    pause_for_identity: bool = True
    breach_alert: bool = True


@dataclass(frozen=True)
class ClassifierSettings:
    model_dir: str | None = None  # where the trained model is cached; default: user cache dir
    triage_threshold: float | None = None  # None: the model's own validated threshold


@dataclass(frozen=True)
class RepliesSettings:
    acknowledge_other: bool = False  # send an acknowledgement to mail classified "other"
    cap_per_recipient: int = 3  # automatic replies to one address ...
    cap_window_hours: int = 24  # ... within this window
    cap_per_recipient_long: int = 10
    cap_window_long_hours: int = 168
    retry_deadline_hours: int = 48  # keep retrying a temporary SMTP failure this long
    loop_header: str = "X-Inbox-Bot-Loop"


@dataclass(frozen=True)
class DigestSettings:
    time: str = "08:00"  # local time of the organisation
    working_days_only: bool = True
    send_when_empty: bool = False
    due_soon_days: int = 7


@dataclass(frozen=True)
class RetentionSettings:
    closed_case_days: int = 1095  # three years after closing
    uncased_mail_days: int = 90  # processed mail without a case is cleared after this; 0 or less: never
    mode: str = "anonymise"  # anonymise | purge
    keep_attachments: bool = False
    attachment_max_bytes: int = 10_000_000


@dataclass(frozen=True)
class ApprovalSettings:
    secret: str | None = None
    secret_env: str | None = None
    require_authentication: bool = False  # require DKIM or SPF pass in Authentication-Results
    authserv_id: str | None = None  # the organisation's own mail server's authserv-id
    dkim_verify: bool = False  # verify DKIM ourselves (dkimpy, DNS) before calling mail a spoof

    def key(self) -> str | None:
        return _secret(self.secret, self.secret_env, "approval")


@dataclass(frozen=True)
class LimitsSettings:
    max_message_bytes: int = 25_000_000
    max_attempts: int = 3  # processing attempts before a message is quarantined
    message_seconds: int = 30  # time limit for parsing and classifying one message
    worker_process: bool = True  # parse a backlog's batches in a second process (~400 MB more)


@dataclass(frozen=True)
class Settings:
    mailbox: MailboxSettings | None
    smtp: SmtpSettings | None
    organisation: OrganisationSettings
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    cases: CasesSettings = field(default_factory=CasesSettings)
    classifier: ClassifierSettings = field(default_factory=ClassifierSettings)
    replies: RepliesSettings = field(default_factory=RepliesSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    approval: ApprovalSettings = field(default_factory=ApprovalSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    source: str = "<defaults>"  # the file the settings came from


def _secret(inline: str | None, env: str | None, section: str) -> str | None:
    if inline is not None:
        return inline
    if env:
        value = os.environ.get(env)
        if value is None:
            key = "secret_env" if section == "approval" else "password_env"
            raise ConfigError(f"[{section}] {key} names {env!r}, which is not set in the environment")
        return value
    return None


_SECTIONS: dict[str, type] = {
    "mailbox": MailboxSettings,
    "smtp": SmtpSettings,
    "organisation": OrganisationSettings,
    "database": DatabaseSettings,
    "cases": CasesSettings,
    "classifier": ClassifierSettings,
    "replies": RepliesSettings,
    "digest": DigestSettings,
    "retention": RetentionSettings,
    "approval": ApprovalSettings,
    "limits": LimitsSettings,
}


def _coerce(value: object, hint: object, where: str) -> object:
    """Check `value` against a type hint; tuples accept TOML arrays. Raise ConfigError on mismatch."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(hint):
            if option is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: wrong type")
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, not {type(value).__name__}")
        (item_hint, _ellipsis) = typing.get_args(hint)
        return tuple(_coerce(v, item_hint, f"{where}[{i}]") for i, v in enumerate(value))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{where} must be a whole number, not true/false")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(f"{where} must be {hint.__name__}, not {type(value).__name__} ({value!r})")
    return value


def _build(cls: type, data: dict, section: str, path: str) -> object:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{path}: unknown key [{section}] {unknown[0]!r}")
    kwargs = {}
    for name, f in known.items():
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], f"{path}: [{section}] {name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{path}: missing required key [{section}] {name}")
    return cls(**kwargs)


def _validate(settings: Settings, path: str) -> None:
    for section in ("mailbox", "smtp"):
        sec = getattr(settings, section)
        if sec is not None and sec.security not in ("tls", "starttls", "none"):
            raise ConfigError(f"{path}: [{section}] security must be tls, starttls or none, not {sec.security!r}")
        if sec is not None and not (0 < sec.port < 65536):
            raise ConfigError(f"{path}: [{section}] port {sec.port} is out of range")
        if sec is not None and sec.tls_ca_file and not Path(sec.tls_ca_file).is_file():
            raise ConfigError(f"{path}: [{section}] tls_ca_file {sec.tls_ca_file!r} is not a readable file")
    try:
        ZoneInfo(settings.organisation.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{path}: [organisation] timezone {settings.organisation.timezone!r} is not a known time zone")
    try:
        import holidays

        holidays.country_holidays(settings.organisation.holidays)
    except (NotImplementedError, KeyError, AttributeError):
        raise ConfigError(
            f"{path}: [organisation] holidays {settings.organisation.holidays!r} is not a known country code (e.g. \"PL\")"
        ) from None
    from inbox_bot.compose import available_languages

    languages = available_languages()
    if languages and settings.organisation.default_language not in languages:
        raise ConfigError(
            f"{path}: [organisation] default_language {settings.organisation.default_language!r} has no templates "
            f"(available: {', '.join(sorted(languages))})"
        )
    if settings.retention.mode not in ("anonymise", "purge"):
        raise ConfigError(f"{path}: [retention] mode must be anonymise or purge")
    hh, _, mm = settings.digest.time.partition(":")
    if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
        raise ConfigError(f"{path}: [digest] time must be HH:MM, not {settings.digest.time!r}")
    if "@" not in settings.organisation.address:
        raise ConfigError(f"{path}: [organisation] address must be an email address")


def from_dict(data: dict, path: str = "<config>") -> Settings:
    """Build settings from a parsed TOML document (also used by the demo and tests)."""
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown section [{unknown[0]}]")
    if "organisation" not in data:
        raise ConfigError(f"{path}: missing required section [organisation]")
    parts: dict[str, object] = {}
    for section, cls in _SECTIONS.items():
        if section in data:
            if not isinstance(data[section], dict):
                raise ConfigError(f"{path}: [{section}] must be a table")
            parts[section] = _build(cls, data[section], section, path)
    parts.setdefault("mailbox", None)
    parts.setdefault("smtp", None)
    settings = Settings(**parts, source=path)  # type: ignore[arg-type]
    _validate(settings, path)
    return settings


def load(path: str | os.PathLike | None = None) -> Settings:
    """Load settings from `path`, else ./config.toml, else the file named by INBOX_BOT_CONFIG."""
    candidates = [Path(path)] if path else [Path("config.toml")]
    if not path and os.environ.get("INBOX_BOT_CONFIG"):
        candidates.append(Path(os.environ["INBOX_BOT_CONFIG"]))
    for candidate in candidates:
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{candidate}: not valid TOML: {exc}") from None
            return from_dict(data, str(candidate))
    raise ConfigError(f"no configuration file: tried {', '.join(str(c) for c in candidates)}")


def require(settings: Settings, *sections: str) -> None:
    """Raise ConfigError unless every named optional section is present."""
    for section in sections:
        if getattr(settings, section) is None:
            raise ConfigError(f"{settings.source}: missing required section [{section}]")
