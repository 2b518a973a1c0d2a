"""A wheel built from the repository carries what the daemon reads at run time, and works alone.

The templates live in the top-level templates/ folder (DESIGN.md "Layout"), which is not a Python
package: pyproject.toml ships it as the package `inbox_bot_templates`. These tests build the wheel
offline (no build isolation, no index), check its file list against the repository, install it
into a bare target folder and render letters from there, away from any checkout. They guard the
failure where `pip install .` ships no templates and every acknowledgement fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# What the build reads. Only these are copied: building in the work tree would leave build/ and
# *.egg-info there, and setuptools does not empty build/lib between builds, so a template deleted
# from templates/ would still ride in the wheel and the comparison below would pass wrongly.
BUILD_INPUTS = ("pyproject.toml", "README.md", "inbox_bot", "classifiers", "templates")
_NOT_SOURCES = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "model")


def _repo_files(folder: str, pattern: str) -> set[str]:
    """Files under REPO/folder matching pattern, as wheel-style paths relative to REPO/folder."""
    root = REPO / folder
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob(pattern)
        if p.is_file() and "__pycache__" not in p.parts
    }


def _can_build_wheels() -> bool:
    # setuptools before 70.1 builds wheels only with the `wheel` package beside it; without it
    # `pip wheel --no-build-isolation` stops at "invalid command 'bdist_wheel'".
    if importlib.util.find_spec("wheel") is not None:
        return True
    from importlib.metadata import version

    major, minor = (int(part) for part in version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, set[str]]:
    """The wheel built from the repository's sources, and the names it holds."""
    if not _can_build_wheels():
        pytest.fail(
            "cannot build a wheel offline: this environment needs the `wheel` package "
            "(or setuptools >= 70.1) beside setuptools; the `test` extra should bring it"
        )
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=_NOT_SOURCES)
        else:
            shutil.copy2(path, source / name)
    out = work / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "-q", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=300, cwd=work,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = out.glob("inbox_bot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    return wheel, names


def test_wheel_carries_every_template(built):
    # The exact list, both ways: a template left out fails a reply; a stray file in the package
    # means the package-data pattern picks up something that is not a letter.
    _, names = built
    shipped = {n.removeprefix("inbox_bot_templates/") for n in names if n.startswith("inbox_bot_templates/")}
    assert shipped == _repo_files("templates", "*")
    assert {"en/acknowledgement.txt.j2", "pl/acknowledgement.txt.j2"} <= shipped


def test_wheel_carries_corpus_migrations_and_every_module(built):
    # The corpus and migrations are package data; every module must come along too, because
    # pyproject.toml lists the packages by hand: a new package left off that list would be missing.
    _, names = built
    corpus = {f"classifiers/data/{n}" for n in _repo_files("classifiers/data", "*.jsonl")}
    versions = {f"inbox_bot/migrations/versions/{n}" for n in _repo_files("inbox_bot/migrations/versions", "*.py")}
    modules = {f"inbox_bot/{n}" for n in _repo_files("inbox_bot", "*.py")}
    modules |= {f"classifiers/{n}" for n in _repo_files("classifiers", "*.py")}
    assert corpus and versions
    assert corpus - names == set()
    assert versions - names == set()
    assert modules - names == set()


# Run in the installed copy: imports compose, renders an acknowledgement per language with the
# context the pipeline builds (pipeline._reply_context), prints what the test checks as JSON.
_RENDER = r"""
import json, sys
from datetime import datetime
from zoneinfo import ZoneInfo
from inbox_bot import compose

tz = ZoneInfo("Europe/Warsaw")
result = {"compose": compose.__file__, "templates": str(compose.default_templates_dir()), "letters": {}}
for lang in ("pl", "en"):
    context = {
        "reference": "IODO-2026-00042",
        "labels": ["access"],
        "triage": False,
        "received_at": datetime(2026, 3, 2, 9, 30, tzinfo=tz),
        "due_at": datetime(2026, 4, 2, 23, 59, tzinfo=tz),
        "breach_due_at": None,
        "organisation": "Optingo Digital Sp. z o.o.",
        "contact": "iodo@optingo.eu",
        "language": lang,
        "timezone": "Europe/Warsaw",
        "suppressed": False,
        "requester": "jan.kowalski@example.com",
        "address": "jan.kowalski@example.com",
        "suppressed_at": datetime(2026, 3, 2, 9, 31, tzinfo=tz),
        "excerpt": None,
    }
    letter = compose.render("acknowledgement", lang, context)
    result["letters"][lang] = {"subject": letter.subject, "text": letter.text}
json.dump(result, sys.stdout)
"""


def test_installed_wheel_renders_acknowledgements_without_a_checkout(built, tmp_path):
    # The failure this guards: in site-packages, templates/ beside the package does not exist,
    # and compose must find the letters the wheel installed as inbox_bot_templates.
    wheel, _ = built
    target = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
         "--disable-pip-version-check", "-q", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr

    # -S: no site processing, so neither this venv's editable-install hook (which maps inbox_bot
    # onto the checkout) nor any .pth file is in play; the installed copy comes first on the path
    # and the venv's site-packages after it only supplies the dependencies (Jinja2 and the rest).
    deps = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "INBOX_BOT_TEMPLATES")}
    env["PYTHONPATH"] = os.pathsep.join([str(target), *deps])
    away = tmp_path / "elsewhere"  # a working directory with no templates/ and no checkout
    away.mkdir()
    run = subprocess.run(
        [sys.executable, "-S", "-c", _RENDER],
        capture_output=True, text=True, timeout=120, cwd=away, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)

    assert Path(result["compose"]).is_relative_to(target)
    assert Path(result["templates"]) == target / "inbox_bot_templates"
    for lang in ("pl", "en"):
        letter = result["letters"][lang]
        assert "IODO-2026-00042" in letter["subject"]
        assert "IODO-2026-00042" in letter["text"]
    # Each language got its own letter, not one template read twice.
    assert "Dzień dobry" in result["letters"]["pl"]["text"]
    assert "Hello" in result["letters"]["en"]["text"]
