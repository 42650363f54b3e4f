"""Validating a normalized table with its pandera rules, failing closed with an error that names the file and,
where pandera says which row failed, the row and its line in that file."""

from __future__ import annotations

from collections.abc import Callable

import pandera.polars as pa_pl
import polars as pl

from hedgegrid_data.errors import ArchiveDataError


def validate_rows(rules: pa_pl.DataFrameSchema, frame: pl.DataFrame, file: str,
                  where: Callable[[int], tuple[str, int | None]]) -> None:
    """Validate ``frame`` with pandera; a failure names the file and, where pandera says which row failed,
    ``where(row)``: what the row is (``"trade 123"``) and its file line (None when unknown)."""
    try:
        rules.validate(frame)
    except pa_pl.errors.SchemaError as exc:
        failed = None
        if isinstance(exc.check_output, pl.DataFrame) and "check_output" in exc.check_output.columns:
            failed = exc.check_output["check_output"].arg_min()
        if failed is None:
            raise ArchiveDataError(file, f"schema validation failed: {exc}") from None
        what, line = where(failed)
        raise ArchiveDataError(file, f"schema validation failed for {what}: {exc}", line=line) from None
