"""Benchmark oracles over real data, with exact query accounting."""
