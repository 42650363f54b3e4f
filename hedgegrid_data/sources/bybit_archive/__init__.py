"""Bybit's public trade archive (public.bybit.com): daily trade files of its linear, inverse and spot markets."""
