"""The class store fixture, shared by the store, seat and fault tests."""

from tests.app.classroom.test_store import store  # noqa: F401 - a fixture, found by name
