"""Retry and backfill policies for asset modules.

- ``archive_http_retry()`` (download assets, ``retry_policy=``): the archive client already retries each
  request (5 attempts, ≤30 s, honouring ``Retry-After``); this step-level policy covers longer outages:
  3 more attempts after ~60 s, ~120 s, ~240 s (exponential, ±jitter so parallel runs do not return in
  lockstep). Only retryable failures use it: ``fail_closed`` raises ``Failure(allow_retries=False)`` for
  "not published", checksum mismatches and bad data, which fail at once.
- Backfills (``days_per_run_policy()``): ``BackfillPolicy.multi_run(HEDGEGRID_BACKFILL_DAYS_PER_RUN)``, default
  12. Dagster splits a day × symbol backfill into one range per symbol and chunks each into runs of at most that
  many consecutive days, tagged ``dagster/asset_partition_range_start/end`` (the alerts read them). A run's
  step loops over ``context.partition_keys``: each day is published and reported on its own, a bad day fails
  alone. Nightly, sensor and CLI runs request one partition, tagged ``dagster/partition`` as before. Twelve
  days amortize a run's start-up (a process importing Dagster, Nautilus and the code location: ~3 s) over
  ~12 days of work, and a backfill of 24 days is 2 runs, one per core (``max_concurrent_runs: 2``).
"""

from dagster import BackfillPolicy, Backoff, Jitter, RetryPolicy

from hedgegrid_data import settings


def archive_http_retry() -> RetryPolicy | None:
    """The download assets' step retry policy (``HEDGEGRID_DOWNLOAD_STEP_RETRIES`` retries, default 3; 0: none)."""
    retries = settings.download_step_retries()
    if retries == 0:
        return None
    return RetryPolicy(max_retries=retries, delay=60, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)


def days_per_run_policy() -> BackfillPolicy:
    """UI backfills: runs of up to ``HEDGEGRID_BACKFILL_DAYS_PER_RUN`` partitions (default 12)."""
    return BackfillPolicy.multi_run(max_partitions_per_run=settings.backfill_days_per_run())
