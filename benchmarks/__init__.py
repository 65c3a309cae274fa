"""Benchmarks of the worker and its parts, each against a baseline in the same run.

Run them all with `python -m benchmarks`, one with `python -m benchmarks
NAME`, or all at tiny sizes with `python -m benchmarks --smoke`. Each prints
a table and writes JSON to `benchmarks/results/`. They are not tests: they
assert nothing about timing, but report whether each target was met.
"""
