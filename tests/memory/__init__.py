"""In-memory implementations of the ports, by role (imported through ``tests.fakes``)."""
