"""`inbox-bot demo`: the whole loop on embedded servers, with no configuration file."""

from __future__ import annotations

import os
import re
import subprocess
import sys


def test_demo_runs_the_whole_loop_without_configuration(tmp_path, classifier_ready):
    # Run from an empty folder: no config.toml, no database, nothing but the package.
    result = subprocess.run(
        [sys.executable, "-m", "inbox_bot", "demo"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "Seeded the DPO mailbox with 12 sample messages" in out
    opened = int(re.search(r"Cases opened \((\d+)\)", out).group(1))
    assert 6 <= opened <= 10  # twelve samples: two robots and a sales pitch open nothing
    assert re.search(r"IODO-\d{4}-\d{5}", out)
    # The robots are named as not answered, with the reason.
    assert "an automatic reply (out of office): robots are never answered" in out
    assert "a delivery failure notice: robots are never answered" in out
    # Opt-outs reach the suppression list; one acknowledgement is shown in full.
    assert int(re.search(r"Marketing suppression list \((\d+)\)", out).group(1)) >= 1
    assert "Auto-Submitted: auto-replied" in out and "In-Reply-To:" in out
    # The demo leaves nothing behind in the folder it ran from.
    assert list(tmp_path.iterdir()) == []
