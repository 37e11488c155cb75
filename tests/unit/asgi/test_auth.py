from __future__ import annotations

from stack_runtime.asgi.auth import TokenChecker, bearer_token


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


def test_header_check_reads_as_bearer_parsing_then_accepts() -> None:
    """``accepts_header`` gives what ``accepts(bearer_token(...))`` gives, for any value."""
    checker = TokenChecker(["new", "old", "tökén"])
    values = [
        b"Bearer new",
        b"Bearer old",
        b"bearer new",
        b"BEARER old",
        b"Bearer ne",
        b"Bearer new ",
        b"Bearer  new",
        b"Bearer new x",
        b"Basic new",
        b"new",
        b"",
        b"Bearer ",
        "Bearer tökén".encode(),
        "Bearer tökén".encode("latin-1"),
    ]
    for value in values:
        expected = checker.accepts(bearer_token(value.decode("latin-1")))
        assert checker.accepts_header(value) is expected, value
    assert checker.accepts_header(b"Bearer new") and not checker.accepts_header(b"Bearer x")
    assert not TokenChecker([]).accepts_header(b"Bearer ")


def test_a_request_is_authorized_by_its_header_else_its_body_else_its_query() -> None:
    checker = TokenChecker(["new"])
    assert checker.authorizes(b"Bearer new", b"")
    # A header decides alone: a good token elsewhere does not make up for a bad one.
    assert not checker.authorizes(b"Bearer bad", b"access_token=new", {"access_token": "new"})
    assert checker.authorizes(None, b"", {"access_token": "new"})
    assert not checker.authorizes(None, b"access_token=new", {"access_token": "bad"})
    assert not checker.authorizes(None, b"access_token=new", {"access_token": 5})
    # An empty body token leaves it to the query, whose first access_token counts.
    assert checker.authorizes(None, b"a=1&access_token=new", {"access_token": ""})
    assert checker.authorizes(None, b"access%5Ftoken=new", None)
    assert not checker.authorizes(None, b"access_token=bad&access_token=new")
    assert not checker.authorizes(None, b"access_token=", {})
    assert not TokenChecker([]).authorizes(None, b"access_token=")
