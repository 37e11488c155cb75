"""A small client for calling integrator.io's API back from an extension function.

Every call integrator.io makes carries a one-time ``bearerToken`` in its options,
good for the API while the call lasts::

    from stack_runtime.client import IntegratorClient

    def postSubmit(options):
        api = IntegratorClient.from_options(options)
        flow = api.get(f"flows/{options['_flowId']}")
        ...

Paths are relative to the API's base URL: ``IntegratorClient(base_url=...)``,
else the ``INTEGRATOR_API_URL`` environment variable, else
:data:`DEFAULT_BASE_URL` (use ``https://api.eu.integrator.io/v1`` for the EU
region). A 4xx or 5xx answer raises :class:`IntegratorAPIError` with the status
and integrator.io's error ``code`` and ``message``; left unhandled in an extension
function, it becomes the call's 422 with that code and message.

The client uses ``requests``, which blocks: call it from ``def`` functions (they
run in worker threads), not from ``async def`` ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from .exceptions import IntegratorAPIError

__all__ = ["DEFAULT_BASE_URL", "ENV_BASE_URL", "IntegratorAPIError", "IntegratorClient"]

#: integrator.io's public API (North America).
DEFAULT_BASE_URL = "https://api.integrator.io/v1"
#: Environment variable that replaces :data:`DEFAULT_BASE_URL`.
ENV_BASE_URL = "INTEGRATOR_API_URL"
_DEFAULT_TIMEOUT = 60.0


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class IntegratorClient:
    """Call integrator.io's API with a one-time bearer token."""

    def __init__(
        self,
        bearer_token: str,
        *,
        base_url: str | None = None,
        timeout: float = _DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not bearer_token:
            raise ValueError("a bearer token is required (options['bearerToken'])")
        env = os.environ if environ is None else environ
        self.base_url = (base_url or env.get(ENV_BASE_URL) or DEFAULT_BASE_URL).rstrip("/") + "/"
        self.timeout = timeout
        self._token = bearer_token
        self._session = session or requests.Session()

    @classmethod
    def from_options(
        cls,
        options: Mapping[str, Any],
        *,
        base_url: str | None = None,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> IntegratorClient:
        """A client with the ``bearerToken`` of an extension call's ``options``."""
        token = options.get("bearerToken")
        if not isinstance(token, str) or not token:
            raise ValueError("these options carry no bearerToken")
        return cls(token, base_url=base_url, timeout=timeout)

    def __repr__(self) -> str:
        return f"IntegratorClient(base_url={self.base_url!r}, bearer_token='***')"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (relative to the base URL; a leading ``/`` is ignored)."""
        return urljoin(self.base_url, path.lstrip("/"))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> requests.Response:
        """Send one request; the response, or :class:`IntegratorAPIError` for 4xx/5xx."""
        url = self.url(path)
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise IntegratorAPIError(
                0, "api_unreachable", str(exc), method=method.upper(), url=_without_query(url)
            ) from exc
        if response.status_code >= 400:
            raise _api_error(response)
        return response

    @staticmethod
    def _json(response: requests.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise IntegratorAPIError(
                response.status_code,
                "invalid_json",
                f"the answer is not JSON: {response.text[:200]}",
                method=response.request.method or "",
                url=_without_query(response.url),
                body=response.text,
            ) from exc

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET path``; the parsed JSON answer."""
        return self._json(self.request("GET", path, params=params))

    def post(self, path: str, json: Any = None) -> Any:
        """``POST path`` with a JSON body; the parsed JSON answer (``None`` when empty)."""
        return self._json(self.request("POST", path, json=json))

    def put(self, path: str, json: Any = None) -> Any:
        """``PUT path`` with a JSON body; the parsed JSON answer (``None`` when empty)."""
        return self._json(self.request("PUT", path, json=json))

    def patch(self, path: str, json: Any = None) -> Any:
        """``PATCH path`` with a JSON body (integrator.io takes JSON Patch operations)."""
        return self._json(self.request("PATCH", path, json=json))

    def delete(self, path: str) -> Any:
        """``DELETE path``; the parsed JSON answer (``None`` when empty)."""
        return self._json(self.request("DELETE", path))

    def get_all(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a list, following the ``Link: <...>; rel="next"`` pages.

        Only links on the API's own host are followed, so the token never leaves it.
        """
        response = self.request("GET", path, params=params)
        while True:
            page = self._json(response)
            yield from page if isinstance(page, list) else [page]
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            following = urljoin(response.url, following)
            if urlsplit(following).netloc != urlsplit(self.base_url).netloc:
                return
            response = self.request("GET", following)

    def state(self, key: str) -> Any:
        """The value stored under ``key`` in integrator.io's state API."""
        return self.get(f"state/{key}")

    def set_state(self, key: str, value: Any) -> Any:
        """Store ``value`` under ``key`` in integrator.io's state API."""
        return self.put(f"state/{key}", value)


def _api_error(response: requests.Response) -> IntegratorAPIError:
    """The error for a 4xx or 5xx ``response``."""
    status = response.status_code
    body = response.text
    errors: list[dict[str, Any]] = []
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("errors"), list):
        errors = [e for e in parsed["errors"] if isinstance(e, dict)]
    if errors:
        code = str(errors[0].get("code") or f"http_{status}")
        message = str(errors[0].get("message") or response.reason or "")
    else:
        code = f"http_{status}"
        message = (body.strip()[:200] or response.reason or "no body").replace("\n", " ")
    method = (response.request.method or "") if response.request is not None else ""
    return IntegratorAPIError(
        status,
        code,
        message,
        method=method,
        url=_without_query(response.url),
        errors=errors,
        body=body,
    )
