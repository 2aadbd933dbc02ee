"""PostgreSQL migrations: files named NNNN_description.sql, applied in numeric order."""
