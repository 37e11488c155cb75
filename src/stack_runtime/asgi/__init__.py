"""The HTTP face: the Starlette app, its token check, health, drain and ``/metrics``.

Built on :mod:`stack_runtime.core`; the processes that serve it (gunicorn,
uvicorn's workers) are :mod:`stack_runtime.server`'s.
"""
