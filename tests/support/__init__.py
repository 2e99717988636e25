"""Helpers shared by test modules (one copy each; the test files import them from here)."""
