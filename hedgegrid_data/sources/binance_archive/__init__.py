"""Binance's public archive (data.binance.vision) as a source: its key layout, the verified download and listing,
the CSV parsers of every dataset, each dataset's day steps, and the feeds built from them."""
