"""One base for every error stack-runtime raises on purpose, and the places authors import
them from still work."""

from __future__ import annotations

import inspect

from stack_runtime import client, exceptions, testing
from stack_runtime.exceptions import StackRuntimeError


def test_every_error_is_a_stack_runtime_error() -> None:
    classes = [
        value
        for name, value in vars(exceptions).items()
        if inspect.isclass(value) and issubclass(value, BaseException)
    ]
    assert len(classes) == 14  # the base and its 13 subclasses
    assert all(issubclass(c, StackRuntimeError) for c in classes)
    assert sorted(c.__name__ for c in classes) == sorted(exceptions.__all__)


def test_what_they_were_they_still_are() -> None:
    for name in ("SettingsError", "UsageError", "EnvelopeError", "SampleError", "TargetError"):
        assert issubclass(getattr(exceptions, name), ValueError), name
    assert issubclass(exceptions.ResultShapeError, AssertionError)
    assert issubclass(exceptions.ScaffoldExists, FileExistsError)
    assert str(exceptions.ScaffoldExists([])).startswith("these files exist already")


def test_authors_import_them_where_they_use_them() -> None:
    assert testing.ExtensionCallError is exceptions.ExtensionCallError
    assert testing.ResultShapeError is exceptions.ResultShapeError
    assert client.IntegratorAPIError is exceptions.IntegratorAPIError
    assert {"ExtensionCallError", "ResultShapeError"} <= set(testing.__all__)
    assert "IntegratorAPIError" in client.__all__
