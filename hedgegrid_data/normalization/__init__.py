"""Archive CSV → exact, validated, sorted normalized tables (pure functions, no Dagster)."""
