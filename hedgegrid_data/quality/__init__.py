"""Data-quality verdicts: pure functions from tables to findings, severity and metadata a person can act on."""
