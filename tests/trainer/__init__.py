"""Tests of the cerebros_trainer package."""
