"""The REST citizen channel (plain HTTP/JSON); see `adapters.rest.routes` for the API."""
