"""The accountability register export: one CSV row per case, local dates, no personal data."""

from __future__ import annotations

import csv
import io

from click.testing import CliRunner

from inbox_bot import cases, clocks, register
from inbox_bot.cli import cli
from test_clocks import local, make_case, make_settings, open_db
from test_lifecycle import _config


def test_register_rows_and_export(tmp_path):
    url = f"sqlite:///{tmp_path}/t.db"
    db = open_db(url)
    settings = make_settings(url)
    with db.transaction() as session:
        # Received 23:30 UTC on 31 January = 00:30 on 1 February in Warsaw: the register says 1 February.
        answered = make_case(session, labels=("access", "erasure"), status="in_progress",
                             received=local(2026, 2, 1, 0, 30))
        cases.transition(session, answered, "answered", at=local(2026, 2, 20, 15, 0))
        extended = make_case(session, status="in_progress", received=local(2026, 3, 9, 10, 0))
        clocks.extend(session, settings, extended, "complex", local(2026, 3, 20, 9, 0))
        refs = answered.reference, extended.reference
    with db.session() as session:
        text = register.export_csv(session, settings)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == "reference,types,received,due,extended,answered,outcome"
    assert rows == [
        {"reference": refs[0], "types": "access;erasure", "received": "2026-02-01", "due": "2026-03-02",
         "extended": "no", "answered": "2026-02-20", "outcome": "answered"},
        {"reference": refs[1], "types": "access", "received": "2026-03-09", "due": "2026-06-09",
         "extended": "yes", "answered": "", "outcome": "open"},
    ]
    assert "@" not in text  # no requester addresses in the register

    out = tmp_path / "register.csv"
    result = CliRunner().invoke(cli, ["--config", str(_config(tmp_path, url)), "register", "export", "-o", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8") == text
    db.dispose()
