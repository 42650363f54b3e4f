"""UI backfill benchmark (issue "Backfills from the UI at pipeline speed"): a backfill of N USD-M BTCUSDT days
launched through the webserver's GraphQL API as the UI does, on ``dagster-webserver`` + ``dagster-daemon`` with
the repository's ``dagster.yaml``, side by side with the documented Nautilus path looping over the same zips in
one process.

    python bench/backfill.py [--days 24] [--trades 500000] [--workdir DIR] [--wait-load L]
                             [--skip-reference] [--repo PATH]

1. Generates (once, cached in the workdir) N consecutive zipped trades days of exactly ``--trades`` trades with
   their CHECKSUMs, in the archive's key layout: the local mirror the deployment reads (``HEDGEGRID_BINANCE_URL``).
2. ``reference``: one subprocess loops ``write_trades_documented_path`` (pandas → ``TradeTickDataWrangler`` →
   ``write_data``) over the N zips into one catalog; the loop is timed (imports excluded).
3. ``backfill``: a fresh ``DAGSTER_HOME`` holding a copy of the repository's ``dagster.yaml``; webserver and
   daemon start on 127.0.0.1 with the real code location (``hedgegrid_data.definitions``), the daemon is
   running (its heartbeat seen) before the backfill of the group's materializable assets (what the UI's
   "Materialize all" of ``binance_um_trades`` selects) × the N days is launched through ``launchPartitionBackfill``, so Dagster's 30-s backfill tick falls where it falls.
   The harness polls the backfill until it is complete and reads each run's stats from the instance.
4. ``verify``: every day's catalog file exists, and each day reads back through ``ParquetDataCatalog`` tick by
   tick equal to the reference's.

Reported: end to end (launch → backfill complete, as the UI shows it), launch → last run end, steady state
(first run start → last run end), runs used, each run's launch → start (the run process starting Python,
importing Dagster, Nautilus and the code location) and its days, the machine's CPU use during the steady state
(other users included), and the ratios against the documented loop. Everything is also written to
``<workdir>/results.json``. The environment is inherited as is (``PYTHONDONTWRITEBYTECODE`` included): the
bytecode the runs read is what ``uv sync`` compiled at install.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WORKDIR = REPO / "bench" / "results" / "backfill"
FIRST_DAY = dt.date(2025, 1, 1)
SYMBOL = "BTCUSDT"
INSTRUMENT_ID = "BTCUSDT-PERP.BINANCE"
GROUP = "binance_um_trades"
TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
LOAD_WAIT_MAX_S = 600
BACKFILL_TIMEOUT_S = 3600

TARGET_STEADY_RATIO = 5.0      # steady state ≥ 5× the documented loop
TARGET_END_TO_END_RATIO = 1.0  # end to end faster than the documented loop


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def days_of(n: int) -> list[dt.date]:
    return [FIRST_DAY + dt.timedelta(days=i) for i in range(n)]


def archive_root(workdir: Path, n_days: int, trades: int) -> Path:
    return workdir / "archives" / f"um-{n_days}x{trades}"


def day_file_name(day: dt.date) -> str:
    return f"{day}T00-00-00-000000000Z_{day}T23-59-59-999999999Z.parquet"


def ensure_archive(root: Path, n_days: int, trades: int) -> dict:
    """The N days, generated once (cached by their parameters), each checked against its CHECKSUM."""
    from hedgegrid_data.sources.binance_archive.download import parse_checksum
    from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
    from hedgegrid_data.testing import archive_generator
    from hedgegrid_data.venues.binance import Market
    from hedgegrid_data.venues.symbols import symbol_spec

    spec = symbol_spec(Market.USDM, SYMBOL)
    params = {"days": n_days, "trades": trades, "first_day": FIRST_DAY.isoformat(),
              "price_precision": spec.price_precision, "size_precision": spec.size_precision,
              "generator_sha256": hashlib.sha256(Path(archive_generator.__file__).read_bytes()).hexdigest()}
    marker = root / "generated.json"
    files = [ArchiveFile(Market.USDM, "trades", SYMBOL, day) for day in days_of(n_days)]
    if not (marker.exists() and json.loads(marker.read_text()) == params
            and all((root / f.key).exists() for f in files)):
        shutil.rmtree(root, ignore_errors=True)
        log(f"generating {n_days} days × {trades:,} trades into {root}")
        for i, day in enumerate(days_of(n_days)):
            archive_generator.write_trades_day(root, Market.USDM, SYMBOL, day, trades,
                                               price_precision=spec.price_precision,
                                               size_precision=spec.size_precision, header=True, seed=i,
                                               first_id=1_000_000 + i * trades)
        marker.write_text(json.dumps(params))
    for f in files:
        expected = parse_checksum((root / f.checksum_key).read_text(), f.file_name, f.checksum_key)
        if hashlib.sha256((root / f.key).read_bytes()).hexdigest() != expected:
            raise SystemExit(f"{root / f.key}: sha256 does not match its CHECKSUM")
    return {"root": str(root), "zip_bytes": sum((root / f.key).stat().st_size for f in files), **params}


def wait_for_load(limit: float | None) -> float:
    """Wait (at most ``LOAD_WAIT_MAX_S``) for a 1-minute load average ≤ ``limit``; returns the load average."""
    if limit is not None:
        deadline = time.monotonic() + LOAD_WAIT_MAX_S
        while os.getloadavg()[0] > limit and time.monotonic() < deadline:
            time.sleep(5)
        if os.getloadavg()[0] > limit:
            log(f"load average still {os.getloadavg()[0]:.2f} after {LOAD_WAIT_MAX_S} s; measuring anyway")
    return os.getloadavg()[0]


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


# ---- the documented path ------------------------------------------------------------------------------------


def run_reference(workdir: Path, n_days: int, trades: int) -> dict:
    """In this (sub)process: the documented path looping over the N zips into one catalog."""
    from hedgegrid_data.epochs import TimeUnit
    from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
    from hedgegrid_data.testing.nautilus_reference import write_trades_documented_path
    from hedgegrid_data.venues.binance import Market, build_instrument
    from hedgegrid_data.venues.symbols import symbol_spec

    root = archive_root(workdir, n_days, trades)
    catalog = workdir / "runs" / "reference" / "catalog"
    shutil.rmtree(catalog.parent, ignore_errors=True)
    instrument = build_instrument(symbol_spec(Market.USDM, SYMBOL))
    start, cpu = time.perf_counter(), time.process_time()
    rows = 0
    for day in days_of(n_days):
        archive_file = ArchiveFile(Market.USDM, "trades", SYMBOL, day)
        rows += write_trades_documented_path(root / archive_file.key, archive_file, instrument, catalog,
                                             TimeUnit.MILLISECONDS)
    return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu, "rows": rows}


# ---- the UI backfill ----------------------------------------------------------------------------------------


def daemon_running(stack) -> bool:
    data = stack.graphql("""{ instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } }""")
    statuses = data["instance"]["daemonHealth"]["allDaemonStatuses"]
    return any(s["daemonType"] == "BACKFILL" and s["healthy"] for s in statuses)


def group_assets(stack) -> list[str]:
    """What the UI's "Materialize all" of the group selects: its materializable assets."""
    nodes = stack.graphql("""{ assetNodes { assetKey { path } groupName isMaterializable } }""")["assetNodes"]
    return sorted("/".join(n["assetKey"]["path"]) for n in nodes if n["groupName"] == GROUP and n["isMaterializable"])


def run_backfill(workdir: Path, n_days: int, trades: int, repo: Path) -> dict:
    from dagster import DagsterInstance
    from dagster._core.storage.dagster_run import RunsFilter
    from dagster._core.storage.tags import BACKFILL_ID_TAG

    from hedgegrid_data.testing.dagster_stack import DagsterStack

    run_dir = workdir / "runs" / "backfill"
    shutil.rmtree(run_dir, ignore_errors=True)
    home = run_dir / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(repo / "dagster.yaml", home / "dagster.yaml")
    root = archive_root(workdir, n_days, trades)
    env = {"HEDGEGRID_DATA_DIR": str(run_dir / "data"), "HEDGEGRID_BINANCE_URL": str(root),
           "HEDGEGRID_BINANCE_LISTING_URL": str(root), "HEDGEGRID_ALERT_WEBHOOK": ""}
    stack = DagsterStack(home, "hedgegrid_data.definitions", env, python_path=repo)
    if repo != REPO:  # another checkout (e.g. before this change): its own environment's executables
        stack_python = repo / ".venv" / "bin" / "python"
        stack.env["PATH"] = f"{stack_python.parent}{os.pathsep}{stack.env.get('PATH', '')}"
    keys = [f"{day}|{SYMBOL}" for day in days_of(n_days)]
    samples: list[tuple[float, float, float]] = []
    try:
        # the webserver creates the instance's storage first; the daemon starts once it is loaded (two processes
        # creating a fresh SQLite storage at once can race)
        if repo != REPO:
            stack._start("webserver", [str(repo / ".venv/bin/dagster-webserver"), "-m", stack.module,
                                       "-h", "127.0.0.1", "-p", str(stack.port)])
            stack.wait_ready(600)
            stack._start("daemon", [str(repo / ".venv/bin/dagster-daemon"), "run", "-m", stack.module])
        else:
            stack.start_webserver().wait_ready(600)
            stack.start_daemon()
        stack.wait_for(lambda: daemon_running(stack), 600, "the daemon's backfill loop", interval=1.0)
        time.sleep(5)  # the daemon's first ticks (sensors, schedules) are done; the backfill tick's phase is random
        load = os.getloadavg()[0]
        launched = time.time()
        assets = group_assets(stack)
        backfill_id = stack.launch_partition_backfill(assets, keys)
        status = None
        while time.time() - launched < BACKFILL_TIMEOUT_S:
            samples.append((time.time(), *cpu_times()))
            status = stack.backfill_status(backfill_id)
            if status in TERMINAL:
                break
            time.sleep(0.5)
        completed = time.time()
        if status not in TERMINAL:
            raise SystemExit(f"backfill {backfill_id} not complete after {BACKFILL_TIMEOUT_S} s\n{stack.logs()}")
        os.chdir(home)  # dagster.yaml's storage paths are relative to DAGSTER_HOME, where the stack runs
        instance = DagsterInstance.from_config(str(home))
        records = instance.get_run_records(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
        runs = []
        for record in records:
            run, stats = record.dagster_run, instance.get_run_stats(record.dagster_run.run_id)
            tags = run.tags
            partitions = ([tags["dagster/partition"]] if "dagster/partition" in tags else
                          [tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]]
                          if "dagster/asset_partition_range_start" in tags else ["(unpartitioned)"])
            runs.append({"run_id": run.run_id, "status": run.status.value, "partitions": partitions,
                         "created": record.create_timestamp.timestamp(), "enqueued": stats.enqueued_time,
                         "launched": stats.launch_time, "started": stats.start_time, "ended": stats.end_time})
        instance.dispose()
    finally:
        stack.stop()
    runs.sort(key=lambda r: r["started"] or 0)
    first_start = min(r["started"] for r in runs)
    last_end = max(r["ended"] for r in runs)
    steady = [(t, b, tot) for t, b, tot in samples if first_start <= t <= last_end]
    cpu_busy = ((steady[-1][1] - steady[0][1]) / (steady[-1][2] - steady[0][2])
                if len(steady) > 1 and steady[-1][2] > steady[0][2] else None)
    return {
        "backfill_id": backfill_id, "status": status, "assets": assets, "load_average_before": load,
        "end_to_end_seconds": completed - launched, "launch_to_last_run_end_seconds": last_end - launched,
        "launch_to_first_run_seconds": min(r["created"] for r in runs) - launched,
        "steady_seconds": last_end - first_start, "runs": runs,
        "launch_to_start_seconds": [r["started"] - r["launched"] for r in runs],
        "run_seconds": [r["ended"] - r["started"] for r in runs],
        "machine_cpu_busy_in_steady_state": cpu_busy,
        "data_dir": str(run_dir / "data"), "env_pythondontwritebytecode": os.environ.get("PYTHONDONTWRITEBYTECODE"),
    }


# ---- verification -------------------------------------------------------------------------------------------


def run_verify(workdir: Path, n_days: int, with_reference: bool) -> dict:
    """Every day's file landed; each day reads back through Nautilus equal to the documented path's."""
    import pandas as pd
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    from hedgegrid_data.epochs import day_bounds_ns

    ours_root = workdir / "runs" / "backfill" / "data" / "catalog"
    files = {p.name for p in (ours_root / "data" / "trade_tick" / INSTRUMENT_ID).glob("*.parquet")}
    missing = [str(day) for day in days_of(n_days) if day_file_name(day) not in files]
    result: dict = {"days_landed": n_days - len(missing), "missing_days": missing, "ticks_equal": None,
                    "ticks_compared": 0, "first_difference": None}
    if not with_reference:
        return result
    catalogs = [ParquetDataCatalog(str(workdir / "runs" / "reference" / "catalog")), ParquetDataCatalog(str(ours_root))]
    compared = 0
    for day in days_of(n_days):
        lo, hi = day_bounds_ns(day)
        window = {"start": pd.Timestamp(lo, tz="UTC"), "end": pd.Timestamp(hi, tz="UTC")}
        reference, ours = ([(t.trade_id.value, str(t.price), str(t.size), int(t.aggressor_side), t.ts_event, t.ts_init)
                            for t in c.trade_ticks(instrument_ids=[INSTRUMENT_ID], **window)] for c in catalogs)
        if reference != ours or not ours:
            index = next((i for i, (a, b) in enumerate(zip(reference, ours)) if a != b), min(len(reference), len(ours)))
            result.update(ticks_equal=False, ticks_compared=compared + index,
                          first_difference={"day": str(day), "index": index, "reference_ticks": len(reference),
                                            "ours_ticks": len(ours)})
            return result
        compared += len(ours)
    result.update(ticks_equal=True, ticks_compared=compared)
    return result


# ---- the harness --------------------------------------------------------------------------------------------


def spawn(kind: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--run-one", kind, "--workdir", str(args.workdir),
               "--days", str(args.days), "--trades", str(args.trades), "--repo", str(args.repo)]
    if args.skip_reference:
        command.append("--skip-reference")
    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        raise SystemExit(f"{kind} failed (exit {completed.returncode}):\n{(completed.stderr or completed.stdout)[-4000:]}")
    return json.loads(lines[-1])


def render(args: argparse.Namespace, reference: dict | None, backfill: dict, verify: dict) -> str:
    n, trades = args.days, args.trades
    total = n * trades
    runs = backfill["runs"]
    starts = backfill["launch_to_start_seconds"]
    lines = [f"UI backfill of {n} USD-M {SYMBOL} days × {trades:,} trades ({total:,} trades), "
             f"code at {args.repo}", "",
             "| path | seconds | trades/s | ratio vs documented loop |", "|---|---:|---:|---:|"]
    ref = reference["seconds"] if reference else None

    def row(name: str, seconds: float) -> None:
        ratio = f"{ref / seconds:.2f}×" if ref else "n/a"
        lines.append(f"| {name} | {seconds:.1f} | {total / seconds:,.0f} | {ratio} |")

    if reference:
        row("documented loop (one process, pandas → wrangler → write_data)", reference["seconds"])
    row("backfill end to end (launch → backfill complete)", backfill["end_to_end_seconds"])
    row("backfill launch → last run end", backfill["launch_to_last_run_end_seconds"])
    row("backfill steady state (first run start → last run end)", backfill["steady_seconds"])
    lines.append("")
    lines.append(f"- Backfill of the group's materializable assets, as the UI's \"Materialize all\": "
                 f"{', '.join(backfill['assets'])}.")
    lines.append(f"- Runs: {len(runs)} ({', '.join(r['partitions'][0].split('|')[0] + ('…' + r['partitions'][-1].split('|')[0] if len(r['partitions']) > 1 else '') for r in runs)}), "
                 f"statuses {sorted({r['status'] for r in runs})}; backfill {backfill['status']}.")
    lines.append(f"- Launch → first run created (the daemon's backfill tick): {backfill['launch_to_first_run_seconds']:.1f} s.")
    lines.append("- Per run launch → start (process start, imports, code location): "
                 + ", ".join(f"{s:.1f}" for s in starts) + f" s (min {min(starts):.1f}, max {max(starts):.1f}); "
                 "run start → end: " + ", ".join(f"{s:.1f}" for s in backfill["run_seconds"]) + " s.")
    if backfill["machine_cpu_busy_in_steady_state"] is not None:
        lines.append(f"- Machine CPU busy during the steady state: {backfill['machine_cpu_busy_in_steady_state']:.0%} of "
                     f"{os.cpu_count()} cores (other users included).")
    lines.append(f"- 1-minute load average before the backfill: {backfill['load_average_before']:.2f}"
                 + (f"; before the documented loop: {reference['load_average_before']:.2f}" if reference else "")
                 + f"; PYTHONDONTWRITEBYTECODE={backfill['env_pythondontwritebytecode']!r}.")
    if reference:
        lines.append(f"- CPU seconds of the documented loop: {reference['cpu_seconds']:.1f}.")
    landed = f"{verify['days_landed']} of {n} days landed"
    if verify["ticks_equal"] is None:
        equal = "read-back not compared (--skip-reference)"
    elif verify["ticks_equal"]:
        equal = f"read back through Nautilus EQUAL to the documented path ({verify['ticks_compared']:,} ticks, day by day)"
    else:
        equal = f"DIFFERENT from the documented path: {json.dumps(verify['first_difference'])}"
    lines.append(f"- Catalog: {landed}" + (f" (missing {verify['missing_days']})" if verify["missing_days"] else "")
                 + f"; {equal}.")
    if ref:
        lines += ["", "Targets:", ""]
        steady_ratio = ref / backfill["steady_seconds"]
        e2e_ratio = ref / backfill["end_to_end_seconds"]
        lines.append(f"- {'PASS' if steady_ratio >= TARGET_STEADY_RATIO else 'FAIL'}: steady state ≥ "
                     f"{TARGET_STEADY_RATIO:g}× the documented loop: {steady_ratio:.2f}×")
        lines.append(f"- {'PASS' if e2e_ratio > TARGET_END_TO_END_RATIO else 'FAIL'}: end to end faster than the "
                     f"documented loop: {e2e_ratio:.2f}× ({backfill['end_to_end_seconds']:.1f} vs {ref:.1f} s)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=24, help="consecutive days (default %(default)s)")
    parser.add_argument("--trades", type=int, default=500_000, help="trades per day (default %(default)s)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--wait-load", type=float, metavar="L",
                        help=f"before each timed phase, wait (up to {LOAD_WAIT_MAX_S} s) for a 1-minute load average ≤ L")
    parser.add_argument("--skip-reference", action="store_true", help="do not run the documented loop")
    parser.add_argument("--repo", type=Path, default=REPO,
                        help="checkout whose dagster.yaml, code and .venv the deployment runs (default: this one)")
    parser.add_argument("--run-one", choices=["reference", "backfill", "verify"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.workdir = args.workdir.resolve()
    args.repo = args.repo.resolve()
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.run_one == "reference":
        load = os.getloadavg()[0]
        print(json.dumps({**run_reference(args.workdir, args.days, args.trades), "load_average_before": load}))
        return
    if args.run_one == "backfill":
        print(json.dumps(run_backfill(args.workdir, args.days, args.trades, args.repo)))
        return
    if args.run_one == "verify":
        print(json.dumps(run_verify(args.workdir, args.days, not args.skip_reference)))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    archive = ensure_archive(archive_root(args.workdir, args.days, args.trades), args.days, args.trades)
    reference = None
    if not args.skip_reference:
        wait_for_load(args.wait_load)
        reference = spawn("reference", args)
        log(f"documented loop: {reference['seconds']:.1f} s")
    wait_for_load(args.wait_load)
    backfill = spawn("backfill", args)
    log(f"backfill: end to end {backfill['end_to_end_seconds']:.1f} s, steady {backfill['steady_seconds']:.1f} s, "
        f"{len(backfill['runs'])} run(s)")
    verify = spawn("verify", args)
    report = render(args, reference, backfill, verify)
    print(report)
    results = {"config": {"days": args.days, "trades": args.trades, "repo": str(args.repo),
                          "wait_load": args.wait_load, "cpus": os.cpu_count(),
                          "started": dt.datetime.now(dt.timezone.utc).isoformat()},
               "archive": archive, "reference": reference, "backfill": backfill, "verify": verify, "report": report}
    (args.workdir / f"results-{args.days}x{args.trades}.json").write_text(json.dumps(results, indent=2))
    log(f"results written to {args.workdir / f'results-{args.days}x{args.trades}.json'}")


if __name__ == "__main__":
    main()
