"""The dispatcher core: an envelope in, a result or the protocol's errors out.

The extensions' loader, the dispatcher and its thread pool, the result check,
the error items, the log lines and the event loop's watchdog. Nothing here
knows of HTTP, AWS Lambda or gunicorn: the faces above (:mod:`stack_runtime.asgi`,
:mod:`stack_runtime.aws_lambda`) turn their input into an envelope and the
dispatcher's outcome into their answer.
"""
