"""Peers the benchmark measures the service against, on the same weights."""
