"""The server stack: gunicorn's master, the uvicorn workers and their drain.

gunicorn's application and signals (:mod:`~stack_runtime.server.gunicorn`), the
worker class (:mod:`~stack_runtime.server.worker`), the app each worker builds
(:mod:`~stack_runtime.server.build`), the reload on ``SIGHUP``, uvicorn's
httptools protocol with the direct path (:mod:`~stack_runtime.server.httptools`)
and the garbage collector's settings (:mod:`~stack_runtime.server.gc`). The
AWS Lambda stack leaves this package out.
"""
