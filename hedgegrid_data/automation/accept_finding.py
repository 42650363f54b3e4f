"""The ``accept_finding`` job: an operator accepts one recorded finding of one source day, with a reason, from the
Dagster UI (Jobs → ``accept_finding`` → Launchpad) or the CLI; the day publishes on its next materialization.

The finding must be the one recorded for that day now: the job reads the day's verdicts and appends the exact
finding (its fingerprint) to the acceptances file (``quality/acceptances.py``). Run config::

    ops:
      accept:
        config:
          feed: binance_um_trades            # the asset group (a reconciliation: binance_um_reconciliation)
          partition: 2021-03-14|BTCUSDT
          check: trade_id_gaps
          reason: Binance's own file; the ids are missing from the archive
          by: jane
          fingerprint: ""                    # empty: the finding recorded now; else it must be that one
"""


import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path

from dagster import Config, Failure, JobDefinition, OpExecutionContext, job, op
from pydantic import Field

from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.partitions import day_and_symbol
from hedgegrid_data.quality.acceptances import Acceptance, acceptances_file, add_acceptance, fingerprint
from hedgegrid_data.quality.findings import SCHEMA_VALID, read_verdicts
from hedgegrid_data.store import DataStore

# group name → where a day's verdicts of that group are recorded
VerdictsFile = Callable[[DataStore, dt.date, str], Path]


class AcceptFindingConfig(Config):
    feed: str = Field(description="The asset group whose finding is accepted, e.g. binance_um_trades.")
    partition: str = Field(description="The source day and symbol, e.g. 2021-03-14|BTCUSDT.")
    check: str = Field(description="The check that reported the finding, e.g. trade_id_gaps.")
    reason: str = Field(description="Why the finding is accepted (kept with it, shown in the check and reports).")
    by: str = Field(description="Who accepts it.")
    fingerprint: str = Field(default="", description="The finding's fingerprint (the failed check's metadata); "
                                                     "empty accepts the finding recorded for the day now.")


def accept_recorded_finding(verdicts_file: Path, acceptances_file: Path, config: AcceptFindingConfig) -> Acceptance:
    """Append an acceptance of the finding recorded in ``verdicts_file`` for ``config.check``; raise when the day
    has no such failed check or its fingerprint is not ``config.fingerprint`` (when given)."""
    what = f"{config.feed} {config.partition} {config.check}"
    recorded = [v for v in read_verdicts(verdicts_file) if v.check == config.check] if verdicts_file.exists() else []
    if not recorded:
        raise HedgegridDataError(f"{what}: no verdict recorded for that day; materialize it first")
    [verdict] = recorded
    if verdict.metadata.get("accepted"):
        raise HedgegridDataError(f"{what}: already accepted ({verdict.metadata['accepted_reason']})")
    if verdict.passed:
        raise HedgegridDataError(f"{what}: the check passed, there is no finding to accept")
    if verdict.check == SCHEMA_VALID:
        raise HedgegridDataError(f"{what}: a file that does not parse cannot be published; fix the source")
    found = fingerprint(verdict)
    if config.fingerprint and config.fingerprint != found:
        raise HedgegridDataError(f"{what}: the recorded finding is {found!r}, not {config.fingerprint!r}")
    return add_acceptance(acceptances_file, config.feed, config.partition, config.check, found, config.reason,
                          config.by)


def build_accept_finding_job(verdicts_files: Mapping[str, VerdictsFile]) -> JobDefinition:
    """The job, for the groups of ``verdicts_files``."""

    @op(name="accept", required_resource_keys={"data_store"})
    def accept(context: OpExecutionContext, config: AcceptFindingConfig) -> None:
        if config.feed not in verdicts_files:
            raise Failure(description=f"unknown feed {config.feed!r}; one of {sorted(verdicts_files)}")
        store = context.resources.data_store.store
        try:
            day, symbol = day_and_symbol(config.partition)
        except ValueError as exc:
            raise Failure(description=f"partition {config.partition!r}: expected <YYYY-MM-DD>|<SYMBOL>") from exc
        try:
            accepted = accept_recorded_finding(verdicts_files[config.feed](store, day, symbol),
                                               acceptances_file(store), config)
        except HedgegridDataError as exc:
            raise Failure(description=str(exc)) from exc
        context.log.info(f"accepted {accepted.check} of {accepted.feed} {accepted.partition}: "
                         f"{accepted.fingerprint!r} ({accepted.reason}, {accepted.by}); materialize the day "
                         "again to publish it")

    @job(name="accept_finding", description="Accept one recorded finding of one source day, with a reason: the "
                                            "day publishes on its next materialization; any other finding still "
                                            "blocks.")
    def accept_finding_job() -> None:
        accept()

    return accept_finding_job
