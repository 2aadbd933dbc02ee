"""Configuration: the TOML file, its model, secrets, tenants and opening hours."""
