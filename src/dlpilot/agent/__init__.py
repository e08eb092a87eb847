"""Headless driver of the runbook for CI rounds, through the anthropic SDK or deterministic rules
(later issue)."""

__all__: list[str] = []
