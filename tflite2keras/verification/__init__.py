"""Verification against the TFLite interpreter: verify, lint, reports, reference runs."""
