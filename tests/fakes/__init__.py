"""Fakes of services we cannot run in tests, speaking their real wire formats."""
