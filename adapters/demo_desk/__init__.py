"""The demo desk (a stand-in for the agents' desk, driven over HTTP); see its routes."""
