"""Dagster assets: thin glue from partitions and resources to the pure pipeline functions."""
