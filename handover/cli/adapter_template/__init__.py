"""The files `handover new-adapter` writes: `common` for every kind, one module per kind."""
