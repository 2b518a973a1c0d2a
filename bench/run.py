"""The throughput, latency and memory benchmark: one command, real servers, figures in RESULTS.md.

    python bench/run.py [--messages 10000] [--db sqlite|postgresql|both] [--skip-50k] [--profile]

For each database it appends a generated backlog to a private Dovecot (set-up, not measured),
then measures (a) the raw imapclient fetch of the backlog — the floor; (b) one inbox-bot pass
over it to committed cases and queued acknowledgements, with delivery left out; (c) delivering
the outbox to an aiosmtpd sink; the latency from APPEND to acknowledgement with the daemon on
IDLE; and the peak RSS of the processing process over a 10,000- and a 50,000-message backlog.
(b) and (c) run in subprocesses, so the sink and the generator do not share their interpreter
and each process's peak RSS is its own. The figures go to stdout and into the block between
the markers of the "Throughput, latency and memory" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
for _path in (str(ROOT), str(ROOT / "tests"), str(BENCH)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

RESULTS = BENCH / "RESULTS.md"
SECTION = "## Throughput, latency and memory"
BEGIN, END = "<!-- bench/run.py: figures begin -->", "<!-- bench/run.py: figures end -->"
MODEL_DIR = ROOT / ".cache" / "bench-model"
PASSWORD = "bench-secret"
APPEND_CHUNK = 200  # messages per MULTIAPPEND command
ORGANISATION = {
    "name": "Optingo Digital Sp. z o.o.",
    "address": "iodo@optingo.eu",
    "dpo": ["dpo@optingo.eu"],
    "timezone": "Europe/Warsaw",
    "holidays": "PL",
    "default_language": "pl",
}


# -- configuration ----------------------------------------------------------------------------

def write_config(path: Path, *, imap_port: int, user: str, smtp_port: int, db_url: str, batch_size: int,
                 idle: bool = False) -> Path:
    """A config.toml the daemon and the workers load, as an operator's would look."""
    from helpers import toml_value

    sections = {
        "mailbox": {"host": "127.0.0.1", "port": imap_port, "security": "none", "username": user,
                    "password": PASSWORD, "timeout": 60, "idle": idle, "poll_interval": 60,
                    "batch_size": batch_size},
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "timeout": 30},
        "organisation": ORGANISATION,
        "database": {"url": db_url},
        "classifier": {"model_dir": str(MODEL_DIR)},
    }
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# -- the workers (run in subprocesses) ---------------------------------------------------------

def _mb(value: float | None) -> str:
    return f"{value:.0f} MB" if value else "-"


def _peak_rss_mb(pid: int | None = None) -> float:
    """VmHWM from /proc (the kernel's high-water mark) of this process or `pid`, else ru_maxrss."""
    try:
        for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds(pid: int | str = "self") -> float:
    """User plus system CPU time of a process, all its threads, from /proc (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields 14 and 15 of stat(5), counted after the command name's closing parenthesis.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_cpu_seconds(marker: bytes) -> dict[int, float]:
    """CPU time of every live process on the machine whose name carries `marker`: b"dovecot"
    (Dovecot's children name themselves "<instance>/imap" and the like) or b"postgres" (the
    postmaster, "postgres: ..." for its backends)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker in cmdline.split(b"\0", 1)[0]:
                found[int(entry.name)] = _cpu_seconds(entry.name)
    return found


def _parties_cpu(worker_pid: int | None, on_postgres: bool) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each party's processes: this one, its worker, Dovecot's, PostgreSQL's."""
    parties = {
        "process": {os.getpid(): _cpu_seconds()},
        "worker": {worker_pid: _cpu_seconds(worker_pid)} if worker_pid else {},
        "Dovecot": _server_cpu_seconds(b"dovecot"),
    }
    if on_postgres:
        parties["PostgreSQL"] = _server_cpu_seconds(b"postgres")
    return parties


def _cpu_spent(before: dict, after: dict) -> dict[str, float]:
    """Each party's CPU seconds between two `_parties_cpu` readings (a process started since counts whole)."""
    return {party: sum(seconds - before[party].get(pid, 0.0) for pid, seconds in processes.items())
            for party, processes in after.items()}


def _worker_logging(log_path: str | None) -> None:
    import logging

    from inbox_bot import logs

    logs.setup("INFO")
    if log_path:
        # The daemon logs a line per message; keep that cost in (b), but in a file, not the terminal.
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        handler = logging.FileHandler(log_path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(logs.RedactingFilter())
        root.addHandler(handler)


def worker_process(config: str, log_path: str | None, profile: str | None) -> dict:
    """(b): one pass of the real Runner — fetch, record, process, move — without delivery."""
    from sqlalchemy import func, select

    from inbox_bot import classify, config as config_mod
    from inbox_bot.database import Database
    from inbox_bot.runner import Runner, RunReport
    from inbox_bot.schema import Case, OutboxRow

    _worker_logging(log_path)
    settings = config_mod.load(config)
    if profile:
        from dataclasses import replace

        # The per-message time limit parses in a worker thread, which cProfile does not follow:
        # without this the profile shows parsing and classifying as time spent waiting on a lock.
        settings = replace(settings, limits=replace(settings.limits, message_seconds=0))
    db = Database(settings.database.url)
    started = time.perf_counter()
    classify.model(settings)  # the daemon loads its model once at start: not part of a pass
    model_seconds = time.perf_counter() - started
    rss_before = _peak_rss_mb()

    class ProcessOnly(Runner):
        """A pass without the delivery and Sent-folder steps, which (c) measures on its own."""

        def run_pass(self) -> RunReport:
            with self._lock:
                report = RunReport()
                self._fetch_and_process(report.passes)
                return report

    runner = ProcessOnly(settings, db)
    runner.mailbox()  # connect and create folders before the clock starts, as a running daemon has
    # The worker process too is started once per daemon, not per pass: started (and its language
    # models loaded) before the clock, like the classifier.
    worker_pid = runner.processor.start_workers(wait=True)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    # CPU time of the parties over the pass, to tell waiting from working in the profile.
    on_postgres = settings.database.url.startswith("postgresql")
    cpu_before = _parties_cpu(worker_pid, on_postgres)
    started = time.perf_counter()
    report = runner.run_pass()
    seconds = time.perf_counter() - started
    cpu = _cpu_spent(cpu_before, _parties_cpu(worker_pid, on_postgres))
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    worker_rss = _peak_rss_mb(worker_pid) if worker_pid else None
    runner.close()
    p = report.passes
    with db.session() as session:
        cases = session.execute(select(func.count()).select_from(Case)).scalar_one()
        queued = session.execute(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "queued")
        ).scalar_one()
    db.dispose()
    return {
        "seconds": seconds, "model_seconds": model_seconds, "fetched": p.fetched, "recorded": p.recorded,
        "processed": p.count(status="processed"), "quarantined": p.count(status="quarantined"),
        "retry": p.count(status="retry"), "cases": cases, "queued": queued,
        "rss_before_mb": rss_before, "peak_rss_mb": _peak_rss_mb(), "worker_rss_mb": worker_rss,
        "cpu_seconds": cpu,
    }


def worker_deliver(config: str, log_path: str | None, profile: str | None = None) -> dict:
    """(c): deliver the whole outbox to the SMTP sink; then the Sent-folder copies, timed apart."""
    from sqlalchemy import func, select

    from inbox_bot.schema import OutboxRow
    from inbox_bot import config as config_mod, deliver
    from inbox_bot.database import Database
    from inbox_bot.runner import Runner

    _worker_logging(log_path)
    settings = config_mod.load(config)
    db = Database(settings.database.url)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    report = deliver.deliver_outbox(settings, db)
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    runner = Runner(settings, db)
    runner.mailbox()
    started = time.perf_counter()
    while deliver.rows_to_copy(db, limit=1):  # _copy_sent copies up to 500 rows per call
        runner._copy_sent()
    sent_seconds = time.perf_counter() - started
    with db.session() as session:
        copied = session.execute(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.copied_to_sent.is_(True))
        ).scalar_one()
    runner.close()
    db.dispose()
    return {"seconds": seconds, "sent": report.sent, "deferred": report.deferred, "parked": report.parked,
            "sent_copy_seconds": sent_seconds, "copied": copied, "peak_rss_mb": _peak_rss_mb()}


def _run_worker(kind: str, config: Path, log_path: Path, *extra: str) -> dict:
    env = dict(os.environ, INBOX_BOT_MODEL_DIR=str(MODEL_DIR), PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--config", str(config),
         "--log", str(log_path), *extra],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"worker {kind} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- set-up and the floor ----------------------------------------------------------------------

def append_backlog(dovecot, user: str, n: int, seed: int, offset: int = 0) -> dict:
    """Put the backlog into the user's INBOX with MULTIAPPEND over one connection (not measured)."""
    from generate import backlog

    client = dovecot.imap_client(user)
    started = time.perf_counter()
    total, robots, chunk = 0, 0, []
    try:
        for sample in backlog(n, seed=seed, offset=offset):
            total += len(sample.raw)
            robots += sample.robot
            chunk.append(sample.raw)
            if len(chunk) >= APPEND_CHUNK:
                client.multiappend("INBOX", chunk)
                chunk = []
        if chunk:
            client.multiappend("INBOX", chunk)
    finally:
        client.logout()
    return {"messages": n, "bytes": total, "robots": robots, "seconds": time.perf_counter() - started}


def raw_fetch(dovecot, user: str, batch_size: int, *, trace_off: bool = False) -> dict:
    """(a) the floor: UID FETCH BODY.PEEK[] INTERNALDATE of every message, in batches, nothing else.

    With `trace_off`, imaplib's protocol trace (which imapclient turns on, and inbox-bot's
    mailbox turns off: inbox_bot.mailbox._no_wire_trace) is off here too: the floor of a client
    that does not format what it reads for its debug log.
    """
    client = dovecot.imap_client(user)
    if trace_off:
        from inbox_bot.mailbox import _no_wire_trace

        _no_wire_trace(client)
    try:
        started = time.perf_counter()
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search(["NOT", "DELETED"]))
        count = size = 0
        for start in range(0, len(uids), batch_size):
            response = client.fetch(uids[start : start + batch_size], ["BODY.PEEK[]", "INTERNALDATE"])
            for data in response.values():
                count += 1
                size += len(data[b"BODY[]"])
            del response
        seconds = time.perf_counter() - started
    finally:
        client.logout()
    return {"seconds": seconds, "messages": count, "bytes": size}


# -- latency -------------------------------------------------------------------------------------

def latency(dovecot, sink, user: str, config: Path, log_path: Path, count: int) -> dict:
    """The daemon on IDLE: APPEND one request, wait for its acknowledgement at the sink, repeat."""
    from generate import Generator

    env = dict(os.environ, INBOX_BOT_MODEL_DIR=str(MODEL_DIR), PYTHONPATH=str(ROOT))
    log_file = open(log_path, "ab")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "inbox_bot", "--config", str(config), "run"],
        cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )
    generator = Generator(seed=991)
    samples = []
    i = 0
    while len(samples) < count:  # requests only: robots are meant to get no answer
        sample = generator.sample(i)
        i += 1
        if not sample.robot and sample.kind != "other" and len(sample.raw) < 100_000:
            samples.append(sample)
    timings = []
    client = dovecot.imap_client(user)
    try:
        deadline = time.monotonic() + 120
        while not _daemon_ready(log_path) and time.monotonic() < deadline:
            if daemon.poll() is not None:
                raise RuntimeError(f"daemon exited with {daemon.returncode}; see {log_path}")
            time.sleep(0.2)
        # A first request, not counted, proves the whole path and pays the daemon's one-off
        # costs (loading the model, or retraining it when the corpus changed since).
        warm_up = generator.sample(10_000 + i)
        while warm_up.robot or warm_up.kind == "other" or len(warm_up.raw) > 100_000:
            i += 1
            warm_up = generator.sample(10_000 + i)
        _append_and_wait(client, sink, warm_up.raw, timeout=300)
        for sample in samples:
            timings.append(_append_and_wait(client, sink, sample.raw, timeout=60))
    finally:
        client.logout()
        daemon.terminate()
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log_file.close()
    timings.sort()
    return {
        "count": len(timings),
        "median": timings[len(timings) // 2],
        "p95": timings[min(len(timings) - 1, int(round(0.95 * len(timings))) - 1)],
        "min": timings[0],
        "max": timings[-1],
    }


def _append_and_wait(client, sink, raw: bytes, timeout: float) -> float:
    """APPEND `raw`; return the seconds until the acknowledgement answering it reaches the sink.

    Other mail the same request causes (a draft or an alert to the DPO) may arrive first: the
    clock stops at the message whose In-Reply-To names the request.
    """
    from email import message_from_bytes

    wanted = message_from_bytes(raw)["Message-ID"].strip()
    seen = len(sink.messages())
    started = time.perf_counter()
    client.append("INBOX", raw)
    deadline = time.monotonic() + timeout
    while True:
        arrived = sink.wait_for(seen + 1, timeout=max(0.01, deadline - time.monotonic()))
        for message in arrived[seen:]:
            if (message_from_bytes(message.raw)["In-Reply-To"] or "").strip() == wanted:
                return time.perf_counter() - started
        seen = len(arrived)


def _daemon_ready(log_path: Path) -> bool:
    try:
        return "inbox-bot running" in log_path.read_text(errors="replace")
    except OSError:
        return False


# -- one database ------------------------------------------------------------------------------

def run_database(kind: str, args, dovecot, sink, workdir: Path, postgres=None) -> dict:
    from inbox_bot.database import upgrade

    def new_db(name: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{workdir}/{name}.db"
        return postgres.create_database(name)

    out: dict = {"db": kind}
    if args.memory_only:
        return _big_backlog(kind, args, dovecot, sink, workdir, new_db, out, None)
    user = f"bench-{kind}@optingo.eu"
    dovecot.add_user(user, PASSWORD)
    db_url = new_db(f"bench_{kind}")
    upgrade(db_url)
    config = write_config(workdir / f"{kind}.toml", imap_port=dovecot.port, user=user, smtp_port=sink.port,
                          db_url=db_url, batch_size=args.batch_size)
    print(f"[{kind}] appending {args.messages} messages ...", flush=True)
    out["append"] = append_backlog(dovecot, user, args.messages, seed=args.seed)
    print(f"[{kind}]   {out['append']['bytes'] / 1e6:.1f} MB in {out['append']['seconds']:.1f} s", flush=True)

    out["fetch"] = raw_fetch(dovecot, user, args.batch_size)
    print(f"[{kind}] (a) raw fetch: {out['fetch']['messages']} in {out['fetch']['seconds']:.2f} s", flush=True)
    out["fetch_quiet"] = raw_fetch(dovecot, user, args.batch_size, trace_off=True)
    print(f"[{kind}] (a') raw fetch, imaplib's trace off: {out['fetch_quiet']['messages']} in "
          f"{out['fetch_quiet']['seconds']:.2f} s", flush=True)

    extra = ["--profile-out", str(workdir / f"{kind}.prof")] if args.profile else []
    out["process"] = _run_worker("process", config, workdir / f"{kind}-process.log", *extra)
    pr = out["process"]
    print(f"[{kind}] (b) processing: {pr['processed']} in {pr['seconds']:.2f} s "
          f"({pr['processed'] / pr['seconds']:.0f}/s), b/a {pr['seconds'] / out['fetch']['seconds']:.1f}, "
          f"cases {pr['cases']}, queued {pr['queued']}, peak RSS {pr['peak_rss_mb']:.0f} MB "
          f"+ worker {_mb(pr.get('worker_rss_mb'))}; b/a' {pr['seconds'] / out['fetch_quiet']['seconds']:.1f}", flush=True)
    print(f"[{kind}]   CPU a message: {_cpu_line(pr)}", flush=True)
    sink.clear()
    extra = ["--profile-out", str(workdir / f"{kind}-deliver.prof")] if args.profile else []
    out["deliver"] = _run_worker("deliver", config, workdir / f"{kind}-deliver.log", *extra)
    dl = out["deliver"]
    arrived = len(sink.messages())
    dl["arrived"] = arrived
    print(f"[{kind}] (c) delivery: {dl['sent']} sent in {dl['seconds']:.2f} s ({dl['sent'] / dl['seconds']:.0f}/s), "
          f"{arrived} at the sink; Sent copies {dl['copied']} in {dl['sent_copy_seconds']:.2f} s", flush=True)
    if args.profile:
        _write_profile({"(b) processing": workdir / f"{kind}.prof", "(c) delivery": workdir / f"{kind}-deliver.prof"}, kind)

    if args.latency:
        sink.clear()
        daemon_config = write_config(workdir / f"{kind}-daemon.toml", imap_port=dovecot.port, user=user,
                                      smtp_port=sink.port, db_url=db_url, batch_size=args.batch_size, idle=True)
        try:
            out["latency"] = latency(dovecot, sink, user, daemon_config, workdir / f"{kind}-daemon.log", args.latency)
        except Exception as exc:  # noqa: BLE001 - report the other figures; say why this one is missing
            print(f"[{kind}] latency failed: {type(exc).__name__}: {exc}", flush=True)
        else:
            lt = out["latency"]
            print(f"[{kind}] latency over {lt['count']}: median {lt['median']:.3f} s, p95 {lt['p95']:.3f} s",
                  flush=True)

    # The memory figure is taken on the first database only: at today's speed the big backlog
    # takes a quarter of an hour, and peak RSS is the process's, whichever database it writes to.
    if not args.skip_50k and kind == getattr(args, "big_on", kind):
        _big_backlog(kind, args, dovecot, sink, workdir, new_db, out, pr)
    return out


def _big_backlog(kind: str, args, dovecot, sink, workdir: Path, new_db, out: dict, pr: dict | None) -> dict:
    """The memory figure: the same processing over a five times larger backlog, in a fresh database."""
    from inbox_bot.database import upgrade

    big = args.big or 5 * args.messages
    user50 = f"bench-{kind}-big@optingo.eu"
    dovecot.add_user(user50, PASSWORD)
    url50 = new_db(f"bench_{kind}_big")
    upgrade(url50)
    config50 = write_config(workdir / f"{kind}-big.toml", imap_port=dovecot.port, user=user50,
                            smtp_port=sink.port, db_url=url50, batch_size=args.batch_size)
    print(f"[{kind}] appending {big} messages ...", flush=True)
    out["append_big"] = append_backlog(dovecot, user50, big, seed=args.seed + 1)
    out["process_big"] = _run_worker("process", config50, workdir / f"{kind}-big.log")
    pb = out["process_big"]
    print(f"[{kind}] memory: {pb['processed']} processed in {pb['seconds']:.1f} s "
          f"({pb['processed'] / pb['seconds']:.0f}/s), peak RSS {pb['peak_rss_mb']:.0f} MB "
          f"+ worker {_mb(pb.get('worker_rss_mb'))} "
          f"(backlog of {args.messages}: {pr['peak_rss_mb'] if pr else float('nan'):.0f} MB)", flush=True)
    print(f"[{kind}]   CPU a message: {_cpu_line(pb)}", flush=True)
    return out


def _write_profile(paths: dict[str, Path], kind: str) -> None:
    import io
    import pstats

    buffer = io.StringIO()
    for what, path in paths.items():
        stats = pstats.Stats(str(path), stream=buffer)
        stats.strip_dirs()
        buffer.write(f"cProfile of {what}, {kind}: the top functions by cumulative and by own time\n")
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
    (BENCH / "profile.txt").write_text(buffer.getvalue())
    print(f"[{kind}] profile written to bench/profile.txt", flush=True)


# -- the machine and the report ----------------------------------------------------------------

def machine() -> dict:
    import sqlite3

    info = {"cores": os.cpu_count(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "kernel": platform.release()}
    try:
        meminfo = Path("/proc/meminfo").read_text()
        info["ram_gb"] = round(int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) / 1024 / 1024, 1)
        cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        info["cpu"] = cpu.group(1).strip() if cpu else platform.processor()
    except (OSError, AttributeError):
        pass
    try:
        from servers import dovecot_binary, postgres_bindir

        info["dovecot"] = subprocess.run([dovecot_binary(), "--version"], capture_output=True, text=True).stdout.strip()
        bindir = postgres_bindir()
        if bindir:
            info["postgresql"] = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True,
                                                text=True).stdout.strip()
    except Exception:  # noqa: BLE001 - a missing version string must not stop the report
        pass
    info["load_at_start"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return info


def _cpu_line(pr: dict) -> str:
    """CPU time a message of each party during (b), against the wall time a message."""
    n = max(1, pr["processed"])
    cpu = pr.get("cpu_seconds") or {}
    parts = ", ".join(f"{name} {seconds * 1000 / n:.3f} ms" for name, seconds in cpu.items())
    return f"{parts}; wall {pr['seconds'] * 1000 / n:.3f} ms"


def _cpu_line_of(run: dict) -> str:
    return _cpu_line(run["process"]) if run["process"].get("cpu_seconds") else "-"


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s" if seconds else "-"


def figures_markdown(args, info: dict, runs: list[dict]) -> str:
    lines = [
        BEGIN,
        f"Run of {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: `python bench/run.py --messages {args.messages}"
        f" --db {args.db}{' --skip-50k' if args.skip_50k else ''}{' --memory-only' if args.memory_only else ''}`, batch size {args.batch_size}.",
        "",
        f"Machine: {info.get('cores')} cores ({info.get('cpu', '?')}), {info.get('ram_gb', '?')} GB RAM, "
        f"Linux {info.get('kernel')}; Python {info['python']}, SQLite {info['sqlite']}, "
        f"{info.get('postgresql', 'PostgreSQL ?')}, Dovecot {info.get('dovecot', '?')}. "
        f"Load average when the run started: {info['load_at_start']} (a shared machine: other work ran alongside).",
        "",
        "| figure | " + " | ".join(r["db"] for r in runs) + " |",
        "| --- | " + " | ".join("---" for _ in runs) + " |",
    ]

    def row(name: str, fn) -> None:
        cells = []
        for r in runs:
            try:
                cells.append(fn(r))
            except (KeyError, ZeroDivisionError):
                cells.append("-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    row("backlog", lambda r: f"{r['append']['messages']:,} messages, {r['append']['bytes'] / 1e6:.1f} MB, "
        f"{r['append']['robots']:,} robots")
    row("(a) raw fetch, the floor", lambda r: f"{r['fetch']['seconds']:.2f} s ({_rate(r['fetch']['messages'], r['fetch']['seconds'])})")
    row("(b) processing to committed cases", lambda r: f"{r['process']['seconds']:.2f} s "
        f"({_rate(r['process']['processed'], r['process']['seconds'])})")
    row("b/a", lambda r: f"{r['process']['seconds'] / r['fetch']['seconds']:.1f}")
    row("(a') raw fetch with imaplib's protocol trace off, as inbox-bot fetches", lambda r: f"{r['fetch_quiet']['seconds']:.2f} s "
        f"({_rate(r['fetch_quiet']['messages'], r['fetch_quiet']['seconds'])})")
    row("b/a'", lambda r: f"{r['process']['seconds'] / r['fetch_quiet']['seconds']:.1f}")
    row("CPU a message during (b)", _cpu_line_of)
    row("cases opened / outbox rows queued (acknowledgements, identity requests, mail to the DPO)", lambda r: f"{r['process']['cases']:,} / {r['process']['queued']:,}")
    row("quarantined / retry", lambda r: f"{r['process']['quarantined']} / {r['process']['retry']}")
    row("(c) delivery to the SMTP sink", lambda r: f"{r['deliver']['seconds']:.2f} s, {r['deliver']['sent']:,} sent "
        f"({_rate(r['deliver']['sent'], r['deliver']['seconds'])}), {r['deliver']['arrived']:,} arrived")
    row("Sent-folder copies (APPEND)", lambda r: f"{r['deliver']['sent_copy_seconds']:.2f} s "
        f"({_rate(r['deliver']['copied'], r['deliver']['sent_copy_seconds'])})")
    row("latency APPEND → acknowledgement, median", lambda r: f"{r['latency']['median']:.3f} s")
    row("latency, 95th percentile", lambda r: f"{r['latency']['p95']:.3f} s (of {r['latency']['count']})")
    row("model load at start (not in b)", lambda r: f"{r['process']['model_seconds']:.1f} s")
    row("peak RSS, (b) over the backlog", lambda r: f"{r['process']['peak_rss_mb']:.0f} MB "
        f"(after the model load: {r['process']['rss_before_mb']:.0f} MB)")
    row("peak RSS, (b)'s worker process (parsing)", lambda r: _mb(r['process'].get('worker_rss_mb')))
    row("peak RSS over the big backlog", lambda r: f"{r['process_big']['peak_rss_mb']:.0f} MB "
        f"+ worker {_mb(r['process_big'].get('worker_rss_mb'))} over "
        f"{r['process_big']['processed']:,} messages ({_rate(r['process_big']['processed'], r['process_big']['seconds'])})")
    row("peak RSS, delivery", lambda r: f"{r['deliver']['peak_rss_mb']:.0f} MB")
    lines += ["", END]
    return "\n".join(lines)


def write_results(block: str) -> None:
    """Replace only the figures block of our section; other sections belong to others."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    elif SECTION in text:
        text = text.replace(SECTION, SECTION + "\n\n" + block + "\n", 1)
    else:
        text = text.rstrip("\n") + "\n\n" + SECTION + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


# -- main --------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--skip-50k", action="store_true", help="leave out the 5x backlog for the memory figure")
    parser.add_argument("--big", type=int, default=None, help="messages in the memory backlog (default 5x --messages)")
    parser.add_argument("--memory-only", action="store_true", help="only the big backlog's peak RSS")
    parser.add_argument("--latency", type=int, default=100, help="requests for the latency figure (0: none)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the configured mailbox batch_size")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="profile (b) and (c) and write bench/profile.txt")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument("--worker", choices=("process", "deliver"), help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        if args.worker == "process":
            result = worker_process(args.config, args.log, args.profile_out)
        else:
            result = worker_deliver(args.config, args.log, args.profile_out)
        print(json.dumps(result))
        return 0

    from inbox_bot.config import MailboxSettings
    from servers import DovecotServer, PostgresCluster, SmtpSink

    if args.batch_size is None:
        args.batch_size = MailboxSettings(host="x", username="x").batch_size
    os.environ["INBOX_BOT_MODEL_DIR"] = str(MODEL_DIR)
    info = machine()
    print("machine:", json.dumps(info, ensure_ascii=False), flush=True)
    started = time.perf_counter()
    # Train (or load the cached) model once here, so no worker pays for training.
    from classifiers.train import load_classifier

    t = time.perf_counter()
    load_classifier(MODEL_DIR)
    print(f"classifier ready in {time.perf_counter() - t:.1f} s", flush=True)

    runs = []
    workdir = Path(tempfile.mkdtemp(prefix="inbox-bot-bench-"))
    dovecot = DovecotServer(user="bench@optingo.eu", password=PASSWORD).start()
    sink = SmtpSink().start()
    postgres = None
    try:
        kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
        args.big_on = kinds[0]
        for kind in kinds:
            if kind == "postgresql" and postgres is None:
                postgres = PostgresCluster().start()
            runs.append(run_database(kind, args, dovecot, sink, workdir, postgres))
    finally:
        sink.stop()
        dovecot.cleanup()
        if postgres is not None:
            postgres.stop()
    block = figures_markdown(args, info, runs)
    print(block)
    print(f"benchmark took {time.perf_counter() - started:.0f} s; work files in {workdir}")
    if not args.no_write:
        write_results(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
