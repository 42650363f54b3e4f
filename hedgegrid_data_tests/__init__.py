"""Tests for hedgegrid_data, with real parts: loopback archive server, Dagster instance, Nautilus reader."""
