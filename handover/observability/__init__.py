"""Logs with redaction."""
