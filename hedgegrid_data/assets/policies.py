"""Retry and backfill policies for asset modules.

- ``archive_http_retry()`` (download assets, ``retry_policy=``): the archive client already retries each
  request (5 attempts, ≤30 s, honouring ``Retry-After``); this step-level policy covers longer outages:
  3 more attempts after ~60 s, ~120 s, ~240 s (exponential, ±jitter so parallel runs do not return in
  lockstep). Only retryable failures use it: ``fail_closed`` raises ``Failure(allow_retries=False)`` for
  "not published", checksum mismatches and bad data, which fail at once.
- Backfills: the date × symbol assets keep Dagster's default, no ``backfill_policy``. A UI backfill then
  makes one run per partition, tagged ``dagster/partition`` (what the alerts, the UI's partition views and
  the sensors' de-duplication read). The assets read ``context.partition_key``, so ``single_run`` (one run
  over a range) cannot work; ``multi_run(1)`` gives the same runs but tags them as one-key ranges
  (``dagster/asset_partition_range_start/end``) instead. Each day is independent and idempotent, a failure
  stays confined to its day, and the ``binance_http`` pool plus the run queue bound the parallelism.
  Unpartitioned assets (the universe, rolling reports) run as one run.
"""

from dagster import Backoff, Jitter, RetryPolicy

from hedgegrid_data import settings


def archive_http_retry() -> RetryPolicy | None:
    """The download assets' step retry policy (``HEDGEGRID_DOWNLOAD_STEP_RETRIES`` retries, default 3; 0: none)."""
    retries = settings.download_step_retries()
    if retries == 0:
        return None
    return RetryPolicy(max_retries=retries, delay=60, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)
