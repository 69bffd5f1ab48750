"""Fake servers the tests (and benchmarks) run the real clients against."""
