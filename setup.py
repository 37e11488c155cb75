"""The C modules; everything else about the package is in pyproject.toml.

Each is optional to pip (the install goes on without it when it cannot be
built) and has a pure Python fallback; ``make`` and the Dockerfile check that
they were built. They are declared here rather than in pyproject.toml's
``[tool.setuptools.ext-modules]``, which setuptools still calls experimental
and warns about on every build.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        # The result check (core/results.py falls back to Python when it cannot be built).
        Extension("stack_runtime.core._plain", ["src/stack_runtime/core/_plain.c"], optional=True),
        # The per-request log lines' text (core/logs.py falls back to Python likewise).
        Extension("stack_runtime.core._lines", ["src/stack_runtime/core/_lines.c"], optional=True),
        # The plainest whole POST /function read (server/httptools.py leaves every request to
        # uvicorn's parser when it cannot be built).
        Extension("stack_runtime.server._request", ["src/stack_runtime/server/_request.c"], optional=True),
    ]
)
