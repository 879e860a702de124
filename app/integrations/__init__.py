"""Clients for outside services. Each is optional at run time: the service works (with
degraded answers) when they cannot be reached, and tests replace them with local fakes."""
