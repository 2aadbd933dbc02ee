"""The SQLite engine (embedded default)."""
