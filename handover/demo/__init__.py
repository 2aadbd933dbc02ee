"""The embedded default: a demo configuration and a mock municipal page."""
