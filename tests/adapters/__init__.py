"""Tests of the built-in adapters against a fake core context."""
