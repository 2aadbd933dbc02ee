"""The surface adapters import: contracts, model types, errors and toolkits."""
