"""Test suite of the cerebros packages.

It is a package so that shared fixtures import as `tests.fixtures_s3`.
"""
