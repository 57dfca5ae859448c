"""Hypothesis profiles for the fuzz tests (see harness/fuzzing.py)."""

from harness.fuzzing import register_profiles

register_profiles()
