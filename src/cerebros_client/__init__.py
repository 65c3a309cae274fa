"""Typed client for the Cerebros coordination API (Thunderline)."""
