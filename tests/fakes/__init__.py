"""Fakes of the outside world (real local servers), for tests and demos."""
