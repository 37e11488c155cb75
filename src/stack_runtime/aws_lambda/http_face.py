"""The HTTP face on Lambda: function URLs, API Gateway and ALB events.

The same ASGI app as a server stack (same routes, same system-token check),
driven by Mangum. This module is imported only when the first HTTP event
arrives, so direct invokes never pay for Starlette or Mangum.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from mangum import Mangum

from ..asgi.app import StackApp
from ..asgi.auth import TokenChecker
from ..asgi.state import HostState
from ..core.dispatcher import Dispatcher
from ..core.logs import kv, logger
from ..settings import ENV

__all__ = ["HttpFace", "LambdaHostState", "build_http_face"]


class LambdaHostState(HostState):
    """Host state for a Lambda execution environment, which Lambda alone starts and stops.

    ``GET /stopServer`` must not end the runtime process (Lambda would report
    the invocation as failed and start a new environment), so stopping only
    logs that there is nothing to stop.
    """

    def stop(self) -> None:
        """Do nothing but log: Lambda manages the execution environment's life."""
        logger.info(kv(logName="stopServerIgnored", reason="Lambda manages execution environments"))


class HttpFace:
    """Mangum over the ASGI app, on an event loop of its own.

    Mangum runs each event on the thread's current event loop. A direct invoke
    of an ``async def`` function runs (and then unsets) a loop of its own, so
    the face makes its loop current again before every event.
    """

    def __init__(self, app: StackApp) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.adapter = Mangum(app, lifespan="off")

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        asyncio.set_event_loop(self.loop)
        return self.adapter(event, context)


def build_http_face(
    dispatcher: Dispatcher, tokens: tuple[str, ...]
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda handler for HTTP events over the server stack's ASGI app."""
    if not tokens:
        logger.error(
            kv(
                logName="noSystemToken",
                message=f"{ENV['system_token']} is not set: every HTTP call to /function is "
                "refused with 401",
            )
        )
    app = StackApp(dispatcher, TokenChecker(tokens), LambdaHostState())
    return HttpFace(app)
