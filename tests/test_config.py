"""Configuration: a bad file must stop inbox-bot with the key and the file named, before it connects."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from inbox_bot import config

REPO = Path(__file__).resolve().parents[1]
MINIMAL = {"organisation": {"name": "Optingo", "address": "iodo@optingo.eu"}}


def test_example_configuration_loads_with_every_section():
    # Guards against config.example.toml drifting from the settings classes.
    data = tomllib.loads((REPO / "config.example.toml").read_text(encoding="utf-8"))
    settings = config.from_dict(data, "config.example.toml")
    assert settings.mailbox.host == "imap.example.com"
    assert settings.smtp.security == "starttls"
    assert settings.organisation.dpo == ("dpo@optingo.eu",)
    assert settings.organisation.domain == "optingo.eu"


def test_missing_required_key_names_the_key_and_file():
    with pytest.raises(config.ConfigError, match=r"x\.toml: missing required key \[mailbox\] host"):
        config.from_dict({**MINIMAL, "mailbox": {"username": "u"}}, "x.toml")


def test_unknown_key_is_an_error_not_ignored():
    # A typo such as "pasword" must not silently fall back to no password.
    with pytest.raises(config.ConfigError, match=r"unknown key \[smtp\] 'pasword'"):
        config.from_dict({**MINIMAL, "smtp": {"host": "h", "pasword": "x"}}, "x.toml")


def test_unknown_section_is_an_error():
    with pytest.raises(config.ConfigError, match=r"unknown section \[mailboxes\]"):
        config.from_dict({**MINIMAL, "mailboxes": {}}, "x.toml")


@pytest.mark.parametrize(
    "section, values, message",
    [
        ("mailbox", {"host": "h", "username": "u", "port": "993"}, r"\[mailbox\] port must be int"),
        ("mailbox", {"host": "h", "username": "u", "idle": "yes"}, r"\[mailbox\] idle must be bool"),
        ("organisation", {"name": "n", "address": "iodo@optingo.eu", "dpo": "dpo@optingo.eu"}, r"\[organisation\] dpo must be a list"),
        ("smtp", {"host": "h", "security": "ssl"}, r"security must be tls, starttls or none"),
        ("organisation", {"name": "n", "address": "iodo@optingo.eu", "timezone": "Mars/Olympus"}, r"not a known time zone"),
    ],
)
def test_wrong_types_and_values_name_the_key(section, values, message):
    data = dict(MINIMAL)
    data[section] = values
    with pytest.raises(config.ConfigError, match=message):
        config.from_dict(data, "x.toml")


def test_secret_from_environment(monkeypatch):
    settings = config.from_dict({**MINIMAL, "smtp": {"host": "h", "username": "u", "password_env": "T_SMTP_PW"}})
    monkeypatch.setenv("T_SMTP_PW", "s3cret")
    assert settings.smtp.secret() == "s3cret"
    monkeypatch.delenv("T_SMTP_PW")
    with pytest.raises(config.ConfigError, match="T_SMTP_PW"):
        settings.smtp.secret()


def test_smtp_without_username_means_no_auth():
    settings = config.from_dict({**MINIMAL, "smtp": {"host": "h"}})
    assert settings.smtp.username is None and settings.smtp.secret() is None


def test_cli_reports_a_bad_config_without_a_traceback(tmp_path):
    bad = tmp_path / "config.toml"
    bad.write_text('[organisation]\nname = "n"\naddress = "iodo@optingo.eu"\ncolour = "blue"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "inbox_bot", "--config", str(bad), "run", "--once"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "configuration error" in result.stderr and "colour" in result.stderr and str(bad) in result.stderr
    assert "Traceback" not in result.stderr


def test_config_found_through_the_environment_variable(tmp_path, monkeypatch):
    path = tmp_path / "elsewhere.toml"
    path.write_text('[organisation]\nname = "n"\naddress = "iodo@optingo.eu"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INBOX_BOT_CONFIG", str(path))
    assert config.load().source == str(path)
