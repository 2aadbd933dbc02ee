"""The `handover` command."""
