"""Writing NautilusTrader ParquetDataCatalog data: one atomic file per (type, identifier, UTC day)."""
