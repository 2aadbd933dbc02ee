"""Built-in system texts, one TOML file per language (`nl.toml`, `en.toml`...).

Data only: `handover.texts.catalogue` loads and checks them. This file makes the folder a
package so the texts ship as package data and `importlib.resources` can find them.
"""
