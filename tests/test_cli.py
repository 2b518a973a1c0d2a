"""The command-line contracts of DESIGN.md: names, exit codes and JSON shapes outside checks rely on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


from helpers import parsed, request_mail

REPO = Path(__file__).resolve().parents[1]


def inbox_bot(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 180):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "inbox_bot", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=full_env
    )


def write_config(path: Path, db: Path, extra: str = "") -> Path:
    path.write_text(
        '[organisation]\nname = "Optingo Digital Sp. z o.o."\naddress = "iodo@optingo.eu"\n'
        f'dpo = ["dpo@optingo.eu"]\n\n[database]\nurl = "sqlite:///{db}"\n{extra}',
        encoding="utf-8",
    )
    return path


def test_classify_json_one_object_per_file(tmp_path, classifier_ready):
    request = tmp_path / "request.eml"
    request.write_bytes(request_mail("Jan <jan@example.pl>", "Usunięcie danych", "Proszę o usunięcie moich danych osobowych i konta."))
    letter = tmp_path / "letter.txt"
    letter.write_text("Hello, under Article 15 GDPR please send me a copy of my personal data.", encoding="utf-8")
    ooo = tmp_path / "ooo.eml"
    ooo.write_bytes(request_mail("Anna <anna@example.pl>", "Automatic reply: hello", "I am out of office.",
                                 extra_headers={"Auto-Submitted": "auto-replied"}))
    result = inbox_bot("classify", "--json", str(request), str(letter), str(ooo), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["file"] for r in rows] == [str(request), str(letter), str(ooo)]
    for row in rows:
        assert isinstance(row["screen"], str) and isinstance(row["labels"], list)
        assert isinstance(row["language"], str) and isinstance(row["confidence"], float)
    assert rows[0]["screen"] == "request" and "erasure" in rows[0]["labels"] and rows[0]["language"] == "pl"
    assert rows[1]["screen"] == "request" and "access" in rows[1]["labels"] and rows[1]["language"] == "en"
    # A robot's verdict is the screening's, and it carries no labels.
    assert rows[2]["screen"] == "auto_reply" and rows[2]["labels"] == []


def test_suppression_add_check_remove_export(tmp_path):
    config_file = write_config(tmp_path / "config.toml", tmp_path / "s.db")
    base = ("--config", str(config_file))
    assert inbox_bot(*base, "db", "upgrade").returncode == 0
    added = inbox_bot(*base, "suppression", "add", "Ewa.Nowak@Example.PL")
    assert added.returncode == 0 and added.stdout.strip() == "added"
    assert inbox_bot(*base, "suppression", "add", "ewa.nowak@example.pl").stdout.strip() == "already suppressed"
    check = inbox_bot(*base, "suppression", "check", "ewa.nowak@example.pl")
    assert (check.returncode, check.stdout.strip()) == (0, "suppressed")
    export = inbox_bot(*base, "suppression", "export")
    lines = export.stdout.splitlines()
    assert lines[0] == "address,reason,since" and lines[1].startswith("ewa.nowak@example.pl,marketing_optout,")
    assert inbox_bot(*base, "suppression", "remove", "EWA.NOWAK@example.pl").returncode == 0
    after = inbox_bot(*base, "suppression", "check", "ewa.nowak@example.pl")
    assert (after.returncode, after.stdout.strip()) == (1, "not suppressed")
    invalid = inbox_bot(*base, "suppression", "add", "not an address")
    assert invalid.returncode != 0 and "not a valid email address" in invalid.stderr


def test_daemon_refuses_an_outdated_schema(tmp_path):
    # Guards against running new code on an old database and corrupting it half-way.
    config_file = write_config(
        tmp_path / "config.toml", tmp_path / "old.db",
        '\n[mailbox]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\nusername = "u"\npassword = "p"\n'
        '\n[smtp]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\n',
    )
    result = inbox_bot("--config", str(config_file), "run", "--once")
    assert result.returncode == 2
    assert "inbox-bot db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
    assert inbox_bot("--config", str(config_file), "db", "upgrade").returncode == 0
    listing = inbox_bot("--config", str(config_file), "cases", "list", "--json")
    assert listing.returncode == 0 and listing.stdout == ""


def test_the_daemon_acknowledges_over_idle_and_stops_on_sigterm(dovecot, smtp_sink, tmp_path, classifier_ready):
    db = tmp_path / "daemon.db"
    config_file = write_config(
        tmp_path / "config.toml", db,
        f'\n[mailbox]\nhost = "{dovecot.host}"\nport = {dovecot.port}\nsecurity = "none"\n'
        f'username = "{dovecot.user}"\npassword = "{dovecot.password}"\nidle = true\npoll_interval = 300\n'
        f'\n[smtp]\nhost = "{smtp_sink.host}"\nport = {smtp_sink.port}\nsecurity = "none"\n',
    )
    assert inbox_bot("--config", str(config_file), "db", "upgrade").returncode == 0
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "inbox_bot", "--config", str(config_file), "run"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        time.sleep(3)  # let the first pass and the IDLE connection start
        raw = request_mail("Piotr <piotr@example.pl>", "Dostęp do danych", "Proszę o kopię moich danych osobowych (art. 15 RODO).")
        dovecot.append(raw)
        # The poll interval is 5 minutes: only IDLE can bring the acknowledgement before it.
        (ack,) = smtp_sink.wait_for(1, timeout=90)
        assert parsed(ack.raw)["In-Reply-To"].strip("<>") == parsed(raw)["Message-ID"].strip("<>")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert "piotr@example.pl" not in err  # logs carry hashes, never addresses
