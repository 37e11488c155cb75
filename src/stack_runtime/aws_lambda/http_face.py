"""The HTTP face on Lambda: function URLs, API Gateway and ALB events.

The same ASGI app as a server stack (same routes, same system-token check),
driven by Mangum. This module is imported only when the first HTTP event
arrives, so direct invokes never pay for Starlette or Mangum.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mangum import Mangum

from ..app import StackApp
from ..auth import TokenChecker
from ..dispatcher import Dispatcher
from ..logs import kv, logger
from ..state import HostState

__all__ = ["LambdaHostState", "build_http_face"]


class LambdaHostState(HostState):
    """Host state for a Lambda execution environment, which Lambda alone starts and stops.

    ``GET /stopServer`` must not end the runtime process (Lambda would report
    the invocation as failed and start a new environment), so stopping only
    logs that there is nothing to stop.
    """

    def stop(self) -> None:
        """Do nothing but log: Lambda manages the execution environment's life."""
        logger.info(kv(logName="stopServerIgnored", reason="Lambda manages execution environments"))


def build_http_face(
    dispatcher: Dispatcher, tokens: tuple[str, ...]
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda handler for HTTP events over the server stack's ASGI app."""
    if not tokens:
        logger.error(
            kv(
                logName="noSystemToken",
                message="INTEGRATOR_EXTENSION_SYSTEM_TOKEN is not set: every HTTP call to "
                "/function is refused with 401",
            )
        )
    app = StackApp(dispatcher, TokenChecker(tokens), LambdaHostState())
    return Mangum(app, lifespan="off")
