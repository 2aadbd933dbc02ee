"""The Gem bot adapter (Rasa REST/callback channels and HTTP API); see README.md."""
