"""The direct path is held to the uvicorn and httptools it was reviewed against.

``server/httptools.py`` and ``server/_request.c`` answer ``POST /function`` in place of uvicorn's
``data_received``, ``on_url``, ``on_header`` and ``on_headers_complete`` (and of
httptools' parser): a check that a new version adds there would not apply to them, and
no other test would notice. So any other version, or any change to the source of those
methods, fails here until it has been read and mirrored.
"""

from __future__ import annotations

import hashlib
import inspect
from importlib.metadata import version

import pytest
from uvicorn.protocols.http import httptools_impl

from stack_runtime.server.httptools import REVIEWED, HttpProtocol, http_protocol

TO_DO = """\
The direct path (src/stack_runtime/server/httptools.py, _request.c) was reviewed against uvicorn
{reviewed.uvicorn} and httptools {reviewed.httptools}. {what}. Before the direct path may
run on it:
  1. read the methods listed in REVIEWED's docstring (server/httptools.py) in uvicorn's
     uvicorn/protocols/http/httptools_impl.py, and httptools' changelog, for every check
     of a request (a limit, a refused header, a new leniency) and every change in how a
     response is written;
  2. mirror each one in server/httptools.py and server/_request.c, and say how in REVIEWED's docstring;
  3. run `make fuzz` (the parser and stream differentials against the new version);
  4. update REVIEWED (versions and source digests) and the pins in pyproject.toml.
On any version but the reviewed one, the workers meanwhile read every request with
uvicorn's own protocol."""


def digest(qualified: str) -> str:
    cls, method = qualified.split(".")
    source = inspect.getsource(getattr(getattr(httptools_impl, cls), method))
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def test_the_installed_uvicorn_and_httptools_are_the_reviewed_ones() -> None:
    installed = (version("uvicorn"), version("httptools"))
    what = f"uvicorn {installed[0]} and httptools {installed[1]} are installed"
    assert installed == (REVIEWED.uvicorn, REVIEWED.httptools), TO_DO.format(
        reviewed=REVIEWED, what=what
    )
    assert REVIEWED.installed()


def test_the_uvicorn_methods_the_direct_path_stands_in_for_are_unchanged() -> None:
    changed = [name for name, seen in REVIEWED.sources.items() if digest(name) != seen]
    what = f"The source of {', '.join(changed)} is not the one reviewed"
    assert not changed, TO_DO.format(reviewed=REVIEWED, what=what)


def test_every_uvicorn_method_the_direct_path_overrides_is_reviewed() -> None:
    """A method of uvicorn's protocol that HttpProtocol replaces is among the reviewed."""
    overridden = {
        f"HttpToolsProtocol.{name}"
        for name, value in vars(HttpProtocol).items()
        if callable(value) and name in vars(httptools_impl.HttpToolsProtocol)
    }
    # connection_made only adds state after uvicorn's own; _start_asgi_task starts no task
    # for a request answered directly and is uvicorn's otherwise.
    reviewed = set(REVIEWED.sources) | {
        "HttpToolsProtocol.connection_made",
        "HttpToolsProtocol._start_asgi_task",
    }
    assert overridden <= reviewed, overridden - reviewed


def test_another_version_gets_uvicorn_s_own_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    """The direct path only on the reviewed versions, and only when it is on."""
    assert http_protocol() is HttpProtocol
    assert http_protocol(False) is httptools_impl.HttpToolsProtocol
    monkeypatch.setattr(
        "stack_runtime.server.httptools.REVIEWED", REVIEWED._replace(uvicorn="0.0.1")
    )
    assert http_protocol() is httptools_impl.HttpToolsProtocol
