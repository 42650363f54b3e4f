"""Trades ingestion benchmark (issue "Ingestion speed and memory"): the documented Nautilus path, our
pipeline and a whole Dagster partition, side by side on the same generated Binance trades day.

    python bench/trades_ingest.py [--sizes 1000000,10000000] [--market um] [--workdir DIR]
                                  [--skip-reference-above N] [--repeat K] [--wait-load L]

For each size the harness generates (once, cached in the workdir) a zipped trades day of exactly N
trades with its CHECKSUM, verifies it, then runs each path in a fresh subprocess (this script with
``--run-one``) from that zip into a fresh catalog directory:

- ``reference``: ``write_trades_documented_path`` (pandas → ``TradeTickDataWrangler`` → ``write_data``);
- ``ours``: ``normalize_day`` + ``publish_day`` of the market's trades feed, the zip copied into the raw store
  untimed;
- ``bare``: what the Dagster run does, without Dagster, as a whole process (interpreter start, imports, the
  verified fetch from the mirror, the same two calls, exit), timed from outside like the CLI: the baseline of
  Dagster's overhead;
- ``dagster``: ``dagster asset materialize`` of the market's trades group for one partition, wall clock of
  the whole CLI, with the generated archive as a local mirror and the repository's ``dagster.yaml`` in a
  ``DAGSTER_HOME`` of the workdir whose storage exists (created once, untimed: the nightly run of a
  deployment goes to an existing instance).

A subprocess reports the wall time of its timed section and its peak RSS (``ru_maxrss``; for the CLI,
that of its children) as JSON on its last stdout line. Another subprocess reads the catalogs back
through Nautilus hour by hour and compares the ticks, and hashes each day file. The harness prints a
Markdown report with the targets checked and writes it, with every measurement, to
``<workdir>/results.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile, time_unit_for
from hedgegrid_data.venues.binance import Market

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WORKDIR = REPO / "bench" / "results"
DEFAULT_SIZES = (1_000_000, 10_000_000)
DAY = dt.date(2025, 1, 15)
SYMBOLS = {Market.SPOT: "BTCUSDT", Market.USDM: "BTCUSDT", Market.COINM: "BTCUSD_PERP"}
PATHS = ("reference", "ours", "bare", "dagster")
SAME_CODE = ("ours", "bare", "dagster")
STARTUP_COMMAND = "import hedgegrid_data.definitions"
STARTUP_REPEATS = 3
WARMUP_TRADES = 10_000
LOAD_WAIT_MAX_S = 600
MIB = 1 << 20

TARGET_SPEEDUP = 10.0
TARGET_LARGE_TRADES = 10_000_000
TARGET_SMALL_TRADES = 1_000_000
TARGET_TRADES_PER_SECOND = 1_000_000
TARGET_RSS_MIB = 1024
TARGET_RSS_GROWTH = 1.25
TARGET_DAGSTER_OVERHEAD_S = 5.0
TARGET_NIGHTLY_RATIO = 2.0  # issue "UI backfills": one partition by `dagster asset materialize` within 2× of bare


@dataclass(frozen=True)
class Case:
    """One market and size: where its archive, catalogs and logs live under the workdir."""

    workdir: Path
    market: Market
    size: int

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.market]

    @property
    def archive_file(self) -> ArchiveFile:
        return ArchiveFile(self.market, "trades", self.symbol, DAY)

    @property
    def archive_root(self) -> Path:
        return self.workdir / "archives" / f"{self.market.value}-{self.size}"

    @property
    def zip_path(self) -> Path:
        return self.archive_root / self.archive_file.key

    @property
    def runs_root(self) -> Path:
        return self.workdir / "runs" / f"{self.market.value}-{self.size}"

    def run_dir(self, path: str) -> Path:
        return self.runs_root / path

    def catalog(self, path: str) -> Path:
        return self.run_dir(path) / ("catalog" if path == "reference" else "data/catalog")


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss * 1024 / MIB


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def day_file(catalog: Path) -> Path | None:
    files = sorted((catalog / "data" / "trade_tick").rglob("*.parquet"))
    if len(files) > 1:
        raise RuntimeError(f"{catalog}: expected one trade_tick day file, found {len(files)}")
    return files[0] if files else None


# ---- the subprocesses (--run-one) ------------------------------------------------------------------


def run_reference(case: Case) -> dict:
    from hedgegrid_data.testing.nautilus_reference import write_trades_documented_path
    from hedgegrid_data.venues.binance import build_instrument
    from hedgegrid_data.venues.symbols import symbol_spec

    instrument = build_instrument(symbol_spec(case.market, case.symbol))
    catalog = case.catalog("reference")
    fresh_dir(case.run_dir("reference"))
    rss_before = peak_rss_mib()
    start, cpu_start = time.perf_counter(), time.process_time()
    rows = write_trades_documented_path(case.zip_path, case.archive_file, instrument, catalog,
                                        time_unit_for(case.market, DAY))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "rows": rows, "peak_rss_mib": peak_rss_mib(),
            "rss_before_mib": rss_before}


def run_ours(case: Case) -> dict:
    from hedgegrid_data.feeds.recipe import normalize_day, publish_day
    from hedgegrid_data.sources.binance_archive.feeds import trades_feed
    from hedgegrid_data.store import DataStore

    store = DataStore(fresh_dir(case.run_dir("ours")) / "data")
    raw = store.raw / case.archive_file.key
    raw.parent.mkdir(parents=True)
    shutil.copyfile(case.zip_path, raw)
    feed = trades_feed(case.market)
    rss_before = peak_rss_mib()
    start, cpu_start = time.perf_counter(), time.process_time()
    normalize_day(feed, store, case.archive_file.day, case.symbol)
    normalized = time.perf_counter()
    published = publish_day(feed, store, case.archive_file.day, case.symbol)
    end = time.perf_counter()
    return {
        "seconds": end - start, "cpu_seconds": time.process_time() - cpu_start,
        "normalize_seconds": normalized - start, "publish_seconds": end - normalized,
        "rows": published.day.rows_out, "peak_rss_mib": peak_rss_mib(), "rss_before_mib": rss_before,
    }


def run_bare(case: Case) -> dict:
    fresh_dir(case.run_dir("bare"))
    command = [sys.executable, str(Path(__file__).resolve()), "--run-one", "pipeline", "--workdir", str(case.workdir),
               "--market", case.market.value, "--size", str(case.size)]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    day = day_file(case.catalog("bare"))
    return {"seconds": seconds, "cpu_seconds": children.ru_utime + children.ru_stime,
            "peak_rss_mib": peak_rss_mib(resource.RUSAGE_CHILDREN), "rows": _parquet_rows(day) if day else None}


def run_pipeline(case: Case) -> dict:
    """The child of ``bare``: what the Dagster run does without Dagster, untimed inside: the verified fetch from
    the mirror (the raw asset's), then the day recipe."""
    from hedgegrid_data.startup import loading

    with loading():  # as every entry point loads the pipeline
        from hedgegrid_data.feeds.recipe import normalize_day, publish_day
        from hedgegrid_data.sources.binance_archive.download import BinanceArchive
        from hedgegrid_data.sources.binance_archive.feeds import trades_feed
        from hedgegrid_data.store import DataStore

    store = DataStore(case.run_dir("bare") / "data")
    feed = trades_feed(case.market)
    with BinanceArchive(str(case.archive_root), feed.source.raw_root(store)) as archive:
        archive.fetch_verified(case.archive_file)
    normalize_day(feed, store, case.archive_file.day, case.symbol)
    return {"rows": publish_day(feed, store, case.archive_file.day, case.symbol).day.rows_out}


STEP_FINISHED = re.compile(r'Finished execution of step "([^"]+)" in ([0-9.]+)(ms|s|m)\b')


def step_seconds(log: str) -> dict[str, float]:
    scale = {"ms": 1e-3, "s": 1.0, "m": 60.0}
    return {step: float(value) * scale[unit] for step, value, unit in STEP_FINISHED.findall(log)}


def run_dagster(case: Case) -> dict:
    run_dir = fresh_dir(case.run_dir("dagster"))
    home = dagster_home(case)
    env = {**os.environ, "DAGSTER_HOME": str(home), "HEDGEGRID_DATA_DIR": str(run_dir / "data"),
           "HEDGEGRID_BINANCE_URL": str(case.archive_root)}
    command = [str(Path(sys.executable).with_name("dagster")), "asset", "materialize",
               "-m", "hedgegrid_data.definitions", "--select", f"group:binance_{case.market.value}_trades",
               "--partition", f"{DAY.isoformat()}|{case.symbol}"]
    log_path = run_dir / "cli.log"
    with log_path.open("w") as log:
        start = time.perf_counter()
        completed = subprocess.run(command, cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
        seconds = time.perf_counter() - start
    log_text = log_path.read_text()
    if completed.returncode != 0 or "RUN_SUCCESS" not in log_text:
        raise RuntimeError(f"dagster exited {completed.returncode} without RUN_SUCCESS; see {log_path}:\n"
                           + log_text[-3000:])
    day = day_file(case.catalog("dagster"))
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"seconds": seconds, "cpu_seconds": children.ru_utime + children.ru_stime,
            "peak_rss_mib": peak_rss_mib(resource.RUSAGE_CHILDREN),
            "steps": step_seconds(log_text), "log": str(log_path),
            "rows": _parquet_rows(day) if day else None}


def dagster_home(case: Case) -> Path:
    """The instance the nightly runs go to: the repository's ``dagster.yaml`` in a home whose storage exists
    (created untimed, once per workdir, as a deployment's first run or ``dagster instance migrate`` does)."""
    home = case.workdir / "dagster_home"
    if not (home / "history" / "runs.db").exists():
        fresh_dir(home)
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
        subprocess.run([str(Path(sys.executable).with_name("dagster")), "instance", "migrate"], cwd=home,
                       env={**os.environ, "DAGSTER_HOME": str(home)}, check=True, capture_output=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    return home


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def run_startup(case: Case) -> dict:
    """The import alone, with the bytecode cache warm and, once, with none (every module compiled)."""
    command = [sys.executable, "-c", STARTUP_COMMAND]
    no_cache = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONPYCACHEPREFIX": str(case.workdir / "pycache-empty")}
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, env=no_cache)
    uncached = time.perf_counter() - start
    runs = []
    for _ in range(STARTUP_REPEATS):
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=REPO)
        runs.append(time.perf_counter() - start)
    return {"command": f'python -c "{STARTUP_COMMAND}"', "seconds": statistics.median(runs), "runs": runs,
            "seconds_without_bytecode_cache": uncached, "peak_rss_mib": peak_rss_mib(resource.RUSAGE_CHILDREN)}


def _tick_tuples(ticks: list) -> list[tuple]:
    return [(t.trade_id.value, str(t.price), str(t.size), int(t.aggressor_side), t.ts_event, t.ts_init)
            for t in ticks]


def run_verify(case: Case) -> dict:
    """Reference vs ours read back through Nautilus, one hour at a time; sha256 and size of every day file.

    Ours, bare and dagster run the same code, so their files must be byte-identical; the reference's
    differs in encodings only (``write_data`` dictionary-encodes every column).
    """
    start = time.perf_counter()
    files = {path: day_file(case.catalog(path)) for path in PATHS}
    present = {path: file for path, file in files.items() if file is not None}
    sha256 = {path: sha256_file(file) for path, file in present.items()}
    result: dict = {"files": {path: str(file) for path, file in present.items()}, "sha256": sha256,
                    "bytes": {path: file.stat().st_size for path, file in present.items()},
                    "ours_equals_dagster": len({sha256[p] for p in SAME_CODE}) == 1 if set(SAME_CODE) <= set(sha256)
                    else None,
                    "ticks_equal": None, "ticks_compared": 0, "first_difference": None}
    if files["reference"] is not None and files["ours"] is not None:
        result.update(_compare_ticks(case))
    result["seconds"] = time.perf_counter() - start
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def _compare_ticks(case: Case) -> dict:
    import pandas as pd
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    from hedgegrid_data.venues.binance import instrument_id

    identifier = instrument_id(case.market, case.symbol).value
    catalogs = {path: ParquetDataCatalog(str(case.catalog(path))) for path in ("reference", "ours")}
    day_start, day_end = day_bounds_ns(DAY)
    hour = 3_600 * 10**9
    compared = 0
    for lo in range(day_start, day_end, hour):
        window = {"start": pd.Timestamp(lo, tz="UTC"), "end": pd.Timestamp(lo + hour - 1, tz="UTC")}
        reference, ours = (_tick_tuples(c.trade_ticks(instrument_ids=[identifier], **window))
                           for c in catalogs.values())
        if reference != ours:
            index = next((i for i, (a, b) in enumerate(zip(reference, ours)) if a != b), min(len(reference), len(ours)))
            difference = {"hour_start_ns": lo, "index": index, "reference_ticks": len(reference),
                          "ours_ticks": len(ours),
                          "reference": list(reference[index]) if index < len(reference) else None,
                          "ours": list(ours[index]) if index < len(ours) else None}
            return {"ticks_equal": False, "ticks_compared": compared + index, "first_difference": difference}
        compared += len(reference)
    return {"ticks_equal": True, "ticks_compared": compared, "first_difference": None}


RUNNERS: dict[str, Callable[[Case], dict]] = {
    "reference": run_reference, "ours": run_ours, "bare": run_bare, "pipeline": run_pipeline, "dagster": run_dagster,
    "startup": run_startup, "verify": run_verify,
}


# ---- the harness ---------------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_archive(case: Case) -> dict:
    """Generate the day once per market and size (cached), then check the zip against its CHECKSUM."""
    from hedgegrid_data.sources.binance_archive.download import parse_checksum
    from hedgegrid_data.testing import archive_generator
    from hedgegrid_data.venues.symbols import symbol_spec

    spec = symbol_spec(case.market, case.symbol)
    params = {"market": case.market.value, "symbol": case.symbol, "day": DAY.isoformat(), "trades": case.size,
              "price_precision": spec.price_precision, "size_precision": spec.size_precision,
              "header": case.market is not Market.SPOT, "seed": 0,
              "generator_sha256": sha256_file(Path(archive_generator.__file__))}
    marker = case.archive_root / "generated.json"
    generated_seconds = None
    if not (marker.exists() and json.loads(marker.read_text()) == params and case.zip_path.exists()):
        shutil.rmtree(case.archive_root, ignore_errors=True)
        log(f"generating {case.size:,} {case.market.value} trades into {case.archive_root}")
        start = time.perf_counter()
        extra = {"contract_size": int(spec.contract_size)} if spec.contract_size else {}
        archive_generator.write_trades_day(case.archive_root, case.market, case.symbol, DAY, case.size,
                                           price_precision=spec.price_precision,
                                           size_precision=spec.size_precision,
                                           header=params["header"], seed=params["seed"], **extra)
        generated_seconds = time.perf_counter() - start
        marker.write_text(json.dumps(params))
    checksum = case.archive_root / case.archive_file.checksum_key
    expected = parse_checksum(checksum.read_text(), case.archive_file.file_name, str(checksum))
    actual = sha256_file(case.zip_path)
    if actual != expected:
        raise SystemExit(f"{case.zip_path}: sha256 {actual} does not match its CHECKSUM {expected}")
    return {"zip": str(case.zip_path), "zip_bytes": case.zip_path.stat().st_size, "sha256": actual,
            "generated_seconds": generated_seconds, **params}


def subprocess_env(workdir: Path) -> dict[str, str]:
    """Bytecode cached under the workdir, as in any deployment, even where the shell disables writing it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def spawn(kind: str, case: Case) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--run-one", kind, "--workdir", str(case.workdir),
               "--market", case.market.value, "--size", str(case.size)]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=subprocess_env(case.workdir),
                               check=False)
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        return {"error": f"exit {completed.returncode}: {(completed.stderr or completed.stdout)[-2000:]}"}
    return json.loads(lines[-1])


def warm_up(case: Case) -> dict:
    """Run every path once on a small day, untimed, so that imports read cached bytecode in the measured runs."""
    ensure_archive(case)
    shutil.rmtree(case.runs_root, ignore_errors=True)
    runs = {path: spawn(path, case) for path in PATHS}
    failed = {path: run["error"] for path, run in runs.items() if "error" in run}
    if failed:
        raise SystemExit(f"warm-up on {case.size:,} trades failed: {json.dumps(failed, indent=2)}")
    log(f"warm-up on {case.size:,} trades: " + ", ".join(f"{p} {r['seconds']:.2f} s" for p, r in runs.items()))
    return runs


def wait_for_load(limit: float | None) -> None:
    """Wait (at most ``LOAD_WAIT_MAX_S``) until the 1-minute load average is at most ``limit``."""
    if limit is None:
        return
    deadline = time.monotonic() + LOAD_WAIT_MAX_S
    while os.getloadavg()[0] > limit and time.monotonic() < deadline:
        time.sleep(5)
    if os.getloadavg()[0] > limit:
        log(f"load average still {os.getloadavg()[0]:.2f} after {LOAD_WAIT_MAX_S} s; measuring anyway")


def fastest(attempts: list[dict]) -> dict:
    """The fastest successful attempt, with every attempt attached; the last failure if none succeeded."""
    succeeded = [a for a in attempts if _ok(a)]
    if not succeeded:
        return attempts[-1]
    return {**min(succeeded, key=lambda a: a["seconds"]), "attempts": attempts}


def measure(case: Case, skip_reference_above: int | None, load_limit: float | None, repeat: int) -> dict:
    archive = ensure_archive(case)
    shutil.rmtree(case.runs_root, ignore_errors=True)
    skip_reference = skip_reference_above is not None and case.size > skip_reference_above
    paths = [path for path in PATHS if not (path == "reference" and skip_reference)]
    attempts: dict[str, list[dict]] = {path: [] for path in paths}
    for _ in range(repeat):
        for path in paths:
            wait_for_load(load_limit)
            attempt = spawn(path, case)
            attempts[path].append(attempt)
            outcome = attempt.get("error") or f"{attempt['seconds']:.2f} s, {attempt['peak_rss_mib']:.0f} MiB"
            log(f"{case.size:,} trades: {path}: {outcome}")
    runs = {path: fastest(attempts[path]) if path in attempts
            else {"skipped": f"--skip-reference-above {skip_reference_above:,}"} for path in PATHS}
    verify = spawn("verify", case)
    log(f"{case.size:,} trades: verify: " + (verify.get("error") or f"{verify['seconds']:.1f} s"))
    return {"trades": case.size, "archive": archive, "runs": runs, "verify": verify}


def _ok(run: dict) -> bool:
    return "seconds" in run


def _seconds(results: dict, path: str) -> float | None:
    run = results["runs"][path]
    return run["seconds"] if _ok(run) else None


def dagster_overhead(results: dict) -> float | None:
    """The CLI's wall time beyond the same pipeline run as a bare process (both include start-up and imports)."""
    dagster, bare = _seconds(results, "dagster"), _seconds(results, "bare")
    return None if dagster is None or bare is None else dagster - bare


def nightly_ratios(results: dict) -> list[float]:
    """The CLI's wall time over the bare process', attempt by attempt (the attempts of the two paths alternate, so
    each pair ran under the same load)."""
    dagster, bare = results["runs"]["dagster"], results["runs"]["bare"]
    if not (_ok(dagster) and _ok(bare)):
        return []
    pairs = zip(dagster.get("attempts", [dagster]), bare.get("attempts", [bare]), strict=False)
    return [d["seconds"] / b["seconds"] for d, b in pairs if _ok(d) and _ok(b)]


def check_targets(sizes: list[dict]) -> list[dict]:
    by_size = {s["trades"]: s for s in sizes}
    large = by_size.get(TARGET_LARGE_TRADES) or max(sizes, key=lambda s: s["trades"])
    small = by_size.get(TARGET_SMALL_TRADES) or min(sizes, key=lambda s: s["trades"])
    targets = []

    def target(name: str, passed: bool | None, detail: str) -> None:
        targets.append({"target": name, "passed": passed, "detail": detail})

    for s in sizes:
        ref, ours = _seconds(s, "reference"), _seconds(s, "ours")
        name = f"ours ≥ {TARGET_SPEEDUP:g}× reference trades/s at {s['trades']:,}"
        if ref is None or ours is None:
            missing = [path for path in ("reference", "ours") if _seconds(s, path) is None]
            target(name, None, " and ".join(missing) + " not measured")
        else:
            target(name, ref / ours >= TARGET_SPEEDUP,
                   f"{ref / ours:.1f}× ({s['trades'] / ours:,.0f} vs {s['trades'] / ref:,.0f} trades/s)")
    ours = _seconds(large, "ours")
    target(f"ours ≥ {TARGET_TRADES_PER_SECOND:,} trades/s at {large['trades']:,}",
           None if ours is None else large["trades"] / ours >= TARGET_TRADES_PER_SECOND,
           "not measured" if ours is None else f"{large['trades'] / ours:,.0f} trades/s")
    large_rss = large["runs"]["ours"].get("peak_rss_mib")
    small_rss = small["runs"]["ours"].get("peak_rss_mib")
    target(f"ours peak RSS ≤ {TARGET_RSS_MIB:,} MiB at {large['trades']:,}",
           None if large_rss is None else large_rss <= TARGET_RSS_MIB,
           "not measured" if large_rss is None else f"{large_rss:,.0f} MiB")
    growth_name = (f"ours peak RSS at {large['trades']:,} within {TARGET_RSS_GROWTH - 1:.0%} "
                   f"of {small['trades']:,}")
    if large is small or large_rss is None or small_rss is None:
        target(growth_name, None, "needs two measured sizes")
    else:
        target(growth_name, large_rss <= TARGET_RSS_GROWTH * small_rss,
               f"{large_rss:,.0f} vs {small_rss:,.0f} MiB ({large_rss / small_rss - 1:+.0%})")
    for s in sizes:
        overhead = dagster_overhead(s)
        target(f"Dagster overhead ≤ {TARGET_DAGSTER_OVERHEAD_S:g} s at {s['trades']:,}",
               None if overhead is None else overhead <= TARGET_DAGSTER_OVERHEAD_S,
               "not measured" if overhead is None else f"{overhead:.2f} s")
    for s in sizes:
        ratios = nightly_ratios(s)
        median = statistics.median(ratios) if ratios else None
        target(f"nightly `dagster asset materialize` ≤ {TARGET_NIGHTLY_RATIO:g}× the bare process at {s['trades']:,} "
               "(median of the attempts' ratios)",
               None if median is None else median <= TARGET_NIGHTLY_RATIO,
               "not measured" if median is None else
               f"{median:.2f}× (attempts {', '.join(f'{r:.2f}' for r in ratios)}; fastest of each "
               f"{_seconds(s, 'dagster') / _seconds(s, 'bare'):.2f}×)")
    return targets


def _verdict(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "N/A"}[passed]


def render(market: Market, startup: dict, sizes: list[dict], targets: list[dict], repeat: int) -> str:
    lines = [f"Binance {market.value} {SYMBOLS[market]} trades, {DAY.isoformat()}", "",
             "| trades | path | seconds | trades/s | peak RSS MiB | ratio vs reference |",
             "|---:|---|---:|---:|---:|---:|"]
    for s in sizes:
        reference = _seconds(s, "reference")
        for path in PATHS:
            run = s["runs"][path]
            if not _ok(run):
                status = "skipped" if "skipped" in run else "failed"
                lines.append(f"| {s['trades']:,} | {path} | {status} | | | |")
                continue
            ratio = f"{reference / run['seconds']:.1f}×" if reference is not None else "n/a"
            lines.append(f"| {s['trades']:,} | {path} | {run['seconds']:.2f} | {s['trades'] / run['seconds']:,.0f} "
                         f"| {run['peak_rss_mib']:,.0f} | {ratio} |")
    lines.append("")
    loads = [attempt["load_average_before"] for s in sizes for run in s["runs"].values()
             for attempt in run.get("attempts", [run]) if "load_average_before" in attempt]
    if loads:
        lines.append(f"- Machine: {os.cpu_count()} CPUs; 1-minute load average before each timed run "
                     f"{min(loads):.2f}–{max(loads):.2f}.")
    if repeat > 1:
        lines.append(f"- Each path ran {repeat} times, interleaved, each in a fresh subprocess; rows show the fastest.")
    for s in sizes:
        cpu = ", ".join(f"{path} {run['cpu_seconds']:.2f}" for path, run in s["runs"].items() if _ok(run))
        lines.append(f"- CPU seconds (user + sys, all threads) at {s['trades']:,}: {cpu}.")
    if "seconds" in startup:
        lines.append(f"- Start-up: `{startup['command']}` takes {startup['seconds']:.2f} s "
                     f"(median of {len(startup['runs'])}, bytecode cached), "
                     f"{startup['seconds_without_bytecode_cache']:.2f} s without a bytecode cache; "
                     f"{startup['peak_rss_mib']:,.0f} MiB.")
    else:
        lines.append(f"- Start-up: failed ({startup.get('error', '')[:200]})")
    for s in sizes:
        overhead = dagster_overhead(s)
        if overhead is None:
            lines.append(f"- Dagster overhead for one partition at {s['trades']:,}: not measured.")
            continue
        dagster, bare, ours = s["runs"]["dagster"], s["runs"]["bare"], s["runs"]["ours"]
        steps = dagster.get("steps", {})
        outside = dagster["seconds"] - sum(steps.values())
        step_text = ", ".join(f"{name.rsplit('_', 1)[-1]} {seconds:.2f}" for name, seconds in steps.items())
        lines.append(f"- Dagster overhead for one partition at {s['trades']:,}: {overhead:.2f} s "
                     f"(CLI {dagster['seconds']:.2f} s − bare process {bare['seconds']:.2f} s; the CLI is "
                     f"{dagster['seconds'] - ours['seconds']:.2f} s beyond ours' timed section, which excludes "
                     f"imports; steps {step_text} s; outside steps {outside:.2f} s).")
    for s in sizes:
        v = s["verify"]
        if "error" in v:
            lines.append(f"- Equality at {s['trades']:,}: verification failed ({v['error'][:300]})")
            continue
        if v["ticks_equal"] is None:
            ticks = "N/A (reference not run)"
        elif v["ticks_equal"] and v["ticks_compared"] == s["trades"]:
            ticks = f"EQUAL ({v['ticks_compared']:,} ticks, hour by hour)"
        elif v["ticks_equal"]:
            ticks = f"EQUAL but INCOMPLETE ({v['ticks_compared']:,} of {s['trades']:,} ticks)"
        else:
            ticks = f"DIFFERENT (after {v['ticks_compared']:,} equal ticks: {json.dumps(v['first_difference'])})"
        identical = {True: "IDENTICAL", False: "DIFFERENT", None: "N/A"}[v["ours_equals_dagster"]]
        sizes_text = ", ".join(f"{path} {size / MIB:,.1f} MiB" for path, size in v["bytes"].items())
        lines.append(f"- Equality at {s['trades']:,}: Nautilus read-back reference vs ours {ticks}; "
                     f"ours = bare = dagster day file bytes {identical}; day files {sizes_text}.")
    lines += ["", "Targets:", ""]
    lines += [f"- {_verdict(t['passed'])}: {t['target']}: {t['detail']}" for t in targets]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="comma-separated trade counts (default %(default)s)")
    parser.add_argument("--market", choices=[m.value for m in Market], default=Market.USDM.value)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--repeat", type=int, default=1, metavar="K",
                        help="run every path K times, interleaved, and report the fastest (default %(default)s)")
    parser.add_argument("--wait-load", type=float, metavar="L",
                        help=f"before each timed run, wait (up to {LOAD_WAIT_MAX_S} s) for a 1-minute load average ≤ L")
    parser.add_argument("--skip-reference-above", type=int, metavar="N",
                        help="do not run the documented path for sizes above N trades")
    parser.add_argument("--run-one", choices=list(RUNNERS), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    market = Market(args.market)
    workdir = args.workdir.resolve()
    if args.run_one:
        load_average = os.getloadavg()[0]
        result = RUNNERS[args.run_one](Case(workdir, market, args.size))
        print(json.dumps({**result, "load_average_before": load_average}))
        return
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    workdir.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC).isoformat()
    warmup = warm_up(Case(workdir, market, WARMUP_TRADES))
    startup = spawn("startup", Case(workdir, market, 0))
    results = [measure(Case(workdir, market, size), args.skip_reference_above, args.wait_load, args.repeat)
               for size in sizes]
    targets = check_targets(results)
    report = render(market, startup, results, targets, args.repeat)
    print(report)
    config = {"market": market.value, "symbol": SYMBOLS[market], "day": DAY.isoformat(), "sizes": sizes,
              "skip_reference_above": args.skip_reference_above,
              "repeat": args.repeat, "wait_load": args.wait_load, "python": sys.version.split()[0],
              "cpus": os.cpu_count(), "started": started}
    summary = {"config": config, "warmup": warmup, "startup": startup, "sizes": results, "targets": targets,
               "report": report}
    (workdir / "results.json").write_text(json.dumps(summary, indent=2))
    log(f"results written to {workdir / 'results.json'}")


if __name__ == "__main__":
    main()
