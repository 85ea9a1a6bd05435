"""Builders for tests: small functions that make valid objects through the real services."""
