"""The OBI4wan livechat desk adapter (assumed contract; see README.md and wire.py)."""
