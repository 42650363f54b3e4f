"""hedgegrid-data: verified public crypto market data into NautilusTrader catalogs."""
