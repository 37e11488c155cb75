"""HTTP events as Lambda hands them to a function: function URL, API Gateway, ALB."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["alb_event", "function_url_event", "rest_api_event", "HOST"]

HOST = "abcdefghij.lambda-url.us-east-1.on.aws"


def _body(body: Any) -> str | None:
    if body is None:
        return None
    return body if isinstance(body, str) else json.dumps(body)


def function_url_event(
    path: str,
    method: str = "POST",
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> dict[str, Any]:
    """A function URL (or API Gateway HTTP API, payload 2.0) event."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": HOST, "content-type": "application/json", **(headers or {})},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": HOST,
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "integrator.io",
            },
            "requestId": "url-request-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2025:00:00:00 +0000",
            "timeEpoch": 1735689600000,
        },
        "body": _body(body),
        "isBase64Encoded": False,
    }


def rest_api_event(
    path: str, method: str = "POST", body: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """An API Gateway REST API (v1) proxy event."""
    all_headers = {"Host": "api.example.com", "Content-Type": "application/json", **(headers or {})}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "rest-request-1",
            "identity": {"sourceIp": "203.0.113.7"},
        },
        "body": _body(body),
        "isBase64Encoded": False,
    }


def alb_event(
    path: str, method: str = "POST", body: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """An Application Load Balancer target event."""
    return {
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                "targetgroup/stack/0123456789abcdef"
            }
        },
        "httpMethod": method,
        "path": path,
        "queryStringParameters": {},
        "headers": {
            "host": "stack.example.com",
            "content-type": "application/json",
            **(headers or {}),
        },
        "body": _body(body) or "",
        "isBase64Encoded": False,
    }
