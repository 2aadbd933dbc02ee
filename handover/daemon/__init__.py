"""The daemon: composition root, lifecycle, adapter registry and health."""
