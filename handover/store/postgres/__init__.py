"""The PostgreSQL engine (several instances on one database)."""
