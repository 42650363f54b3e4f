"""Canonical tables: the normalized columns of each data type, with their rules, defined once.

Every source produces them and every sink, quality check and catalog writer reads them; a source's own
normalized table may carry more columns (Binance's notional, ``is_best_match``), never fewer or others.
"""
