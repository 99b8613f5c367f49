"""Benchmarks and checks against a running service: they print their figures."""
