"""Tests of the Gem (Rasa) bot adapter."""
