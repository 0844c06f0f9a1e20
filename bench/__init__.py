"""Benchmarks: build speed, cross-compile cost, sizes and the allocator. Never part of the test suite.

`make bench` (or `python -m bench all`) reruns everything and rewrites docs/BENCHMARKS.md.
"""
