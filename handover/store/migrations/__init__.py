"""Numbered schema migrations, one sub-package per engine (package data: *.sql)."""
