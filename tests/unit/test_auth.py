from __future__ import annotations

from stack_runtime.auth import TokenChecker, bearer_token


def test_bearer_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer abc") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer a b") is None
    assert bearer_token("abc") is None


def test_checker_accepts_any_configured_token() -> None:
    checker = TokenChecker(["new", "old"])
    assert checker.accepts("new") and checker.accepts("old")
    assert not checker.accepts("ne") and not checker.accepts("")
    assert not checker.accepts(None) and not checker.accepts(["new"])
    assert not TokenChecker([])
