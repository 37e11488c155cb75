"""``stack-runtime invoke``, run as a user types it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from ..conftest import FIXTURES, ROOT
from ..hostile import READ, UNREAD, Case
from .commands import stack_runtime
from .conftest import TOKEN
from .server import RunningServer

BUNDLED = str(ROOT / "extensions")
PROTOCOL = str(FIXTURES / "protocol")
CONNECTOR = "5d8a3b6c7e2f4a1b9c0d1e2f"

# Envelopes whose answers cover every kind of outcome: results, raised errors, refused
# results, size limits, validation and resolution errors, every namespace shape.
ENVELOPES: list[dict[str, Any]] = [
    {"diy": True, "type": "hook", "function": "echo", "options": {"a": [1, 2.5, "é", None]}},
    {
        "diy": True,
        "type": "hook",
        "function": "describeDates",
        "options": {"lastExportDateTime": "2024-01-02T03:04:05Z", "currentExportDateTime": 0},
    },
    {"diy": True, "type": "hook", "function": "asyncEcho", "options": {"data": [1]}},
    {"diy": True, "type": "hook", "function": "raiseCoded", "options": {"a": 1}},
    {"diy": True, "type": "hook", "function": "raisePlain", "options": {"a": 1}},
    {"diy": True, "type": "hook", "function": "asyncRaise", "options": {"a": 1}},
    {"diy": True, "type": "hook", "function": "exitProcessCall", "options": {"a": 1}},
    {"diy": True, "type": "hook", "function": "returnNothing", "options": {"a": 1}},
    {"diy": True, "type": "hook", "function": "returnDatetime", "options": {"a": 1}},
    {"diy": True, "type": "hook", "function": "returnTuple", "options": {"a": 1}},
    {"diy": True, "type": "hook", "function": "returnNan", "options": {"a": 1}},
    {
        "diy": True,
        "type": "hook",
        "function": "returnSized",
        "options": {"length": 8},
        "maxResponseSize": 10,
    },
    {
        "diy": True,
        "type": "hook",
        "function": "returnSized",
        "options": {"length": 9},
        "maxResponseSize": 10,
    },
    {
        "diy": True,
        "type": "hook",
        "function": "returnUnicode",
        "options": {"text": "😀😀"},
        "maxResponseSize": 5,
    },
    {"diy": True, "type": "hook", "function": "nothingHere", "options": {"a": 1}},
    {"diy": True, "type": "nope", "function": "echo", "options": {"a": 1}},
    {"diy": True, "type": "hook", "function": "_private", "options": {"a": 1}},
    {"diy": True, "function": "flatEcho", "options": {"flat": True}},
    {"diy": True, "type": "wrapper", "function": "ping", "options": {"a": 1}},
    {"diy": True, "type": "setting", "function": "persistSettings", "options": {"p": 1}},
    {"diy": True, "type": "utility", "function": "sum", "options": {"numbers": [1, 2, 3]}},
    {"_connectorId": "conn-1", "type": "hook", "function": "preSavePage", "options": {"data": []}},
    {"_connectorId": "unknown", "function": "x", "options": {}},
    {"function": 5, "options": ""},
    {"diy": "false", "type": "hook", "function": "", "options": 0},
]


@pytest.mark.parametrize("envelope", ENVELOPES, ids=lambda e: str(e.get("function")))
def test_invoke_answers_the_same_bytes_as_the_server(
    server: RunningServer, envelope: dict[str, Any]
) -> None:
    """The same envelope, over HTTP to ``stack-runtime serve`` and through ``invoke``."""
    http = requests.post(
        server.url + "/function",
        json=envelope,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    local = stack_runtime(
        "invoke", "--envelope", "-", "--extensions", PROTOCOL, stdin=json.dumps(envelope).encode()
    )
    assert local.stdout == http.content
    assert http.status_code in (200, 422)
    assert local.returncode == (0 if http.status_code == 200 else 1), local.stderr.decode()


@pytest.mark.parametrize("case", READ, ids=[c.name for c in READ])
def test_invoke_answers_hostile_envelopes_as_the_server(case: Case) -> None:
    """Nested up to 1024 levels (deeper than orjson writes), raising, too deep a result."""
    local = stack_runtime("invoke", "--envelope", "-", "--extensions", PROTOCOL, stdin=case.body)
    assert json.loads(local.stdout) == case.answer, local.stderr.decode()[-2000:]
    assert local.returncode == (0 if case.status == 200 else 1)


def test_invoke_refuses_an_envelope_too_deep_naming_the_field() -> None:
    local = stack_runtime(
        "invoke", "--envelope", "-", "--extensions", PROTOCOL, stdin=UNREAD[0].body
    )
    assert local.returncode == 2 and local.stdout == b""
    assert local.stderr.decode() == (
        "stack-runtime invoke: the envelope in standard input nests arrays and objects deeper "
        "than 1024 levels, in the field function\n"
    )


def test_records_get_the_standard_options_of_the_kind(tmp_path: Path) -> None:
    records = tmp_path / "page.json"
    records.write_text(json.dumps([{"id": 1, "email": " Ada@Example.com "}, {"status": "x"}]))
    result = stack_runtime(
        "invoke", "preSavePage", "--records", str(records), "--extensions", BUNDLED
    )
    assert result.returncode == 0, result.stderr.decode()
    body = json.loads(result.stdout)
    assert body["data"][0]["email"] == "ada@example.com"
    assert [e["code"] for e in body["errors"]] == ["invalid_email"]
    assert not result.stdout.endswith(b"\n")  # exact bytes when not a terminal


def test_kind_names_the_options_of_a_function_named_freely(tmp_path: Path) -> None:
    diy = tmp_path / "extensions" / "diy"
    diy.mkdir(parents=True)
    (diy / "__init__.py").write_text("")
    (diy / "hooks.py").write_text(
        "def cleanContacts(options):\n"
        "    print('debug output from the hook')\n"
        "    return {'keys': sorted(options), 'data': options['data'], 'job': options['job']['_id']}\n"
    )
    result = stack_runtime(
        "invoke",
        "cleanContacts",
        "--kind",
        "preSavePage",
        "--records",
        "-",
        "--options",
        str(tmp_path / "opts.json"),
        cwd=tmp_path,
        stdin=b'[{"id": 7}]',
    )
    assert result.returncode == 2 and b"cannot read the options file" in result.stderr
    (tmp_path / "opts.json").write_text('{"pageIndex": 4, "testMode": true}')
    result = stack_runtime(
        "invoke",
        "cleanContacts",
        "--kind",
        "preSavePage",
        "--records",
        "-",
        "--options",
        "opts.json",
        cwd=tmp_path,
        stdin=b'[{"id": 7}]',
    )
    assert result.returncode == 0, result.stderr.decode()
    body = json.loads(result.stdout)  # the print went to stderr, not into the answer
    assert body["data"] == [{"id": 7}]
    assert {"_exportId", "_flowId", "bearerToken", "errors", "pageIndex", "job"} <= set(
        body["keys"]
    )
    assert b"debug output from the hook" in result.stderr
    pretty = stack_runtime("invoke", "cleanContacts", "--kind", "preMap", "--pretty", cwd=tmp_path)
    assert pretty.returncode == 0 and pretty.stdout.startswith(b'{\n  "keys": [\n')


def test_a_raised_error_exits_1_with_the_422_and_the_traceback_on_stderr() -> None:
    result = stack_runtime(
        "invoke",
        "persistSettings",
        "--options",
        "-",
        "--extensions",
        BUNDLED,
        stdin=b'{"pending": {"region": "mars"}}',
    )
    assert result.returncode == 1
    assert result.stdout == (
        b'{"errors":[{"message":"Unknown region \'mars\': choose one of us, eu, ap.",'
        b'"code":"ValueError"}]}'
    )
    stderr = result.stderr.decode()
    assert "Traceback (most recent call last):" in stderr
    assert 'diy/settings.py", line' in stderr and "dispatcher.py" not in stderr


def test_connectors_types_and_flat_calls() -> None:
    update = stack_runtime(
        "invoke", "update", "--connector", CONNECTOR, "--type", "installer", "--extensions", BUNDLED
    )
    assert (update.returncode, json.loads(update.stdout)) == (
        0,
        {"success": True, "version": "1.1.0"},
    )
    flat = stack_runtime("invoke", "describe", "--flat", "--extensions", BUNDLED)
    assert flat.returncode == 0 and json.loads(flat.stdout)["name"].startswith("CRM")
    ping = stack_runtime("invoke", "ping", "--extensions", BUNDLED)
    assert ping.returncode == 0 and json.loads(ping.stdout)["statusCode"] == 401
    sized = stack_runtime("invoke", "export", "--max-response-size", "20", "--extensions", BUNDLED)
    assert sized.returncode == 1 and b"response_size_exceeded" in sized.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["verifyCredentials"], b"", "cannot tell the type of 'verifyCredentials'"),
        ([], b"", "name the FUNCTION"),
        (["preMap", "--records", "-"], b"[{", "are not valid JSON"),
        (["preMap", "--records", "-"], b'{"id": 1}', "must hold a JSON array"),
        (["ping", "--records", "-"], b"[]", "'ping' is not one"),
        (["preMap", "--records", "-", "--options", "-"], b"[]", "only one of"),
        (["preMap", "--envelope", "-"], b"{}", "drop FUNCTION"),
        (["--envelope", "-"], b"[1]", "must be a JSON object"),
        (["preMap", "--diy", "--connector", "x"], b"", "not allowed with argument"),
    ],
)
def test_usage_errors_exit_2(args: list[str], stdin: bytes, message: str) -> None:
    result = stack_runtime("invoke", *args, "--extensions", BUNDLED, stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr.decode()
    assert result.stdout == b""


def test_extensions_that_do_not_import_exit_3() -> None:
    result = stack_runtime(
        "invoke", "ok", "--type", "hook", "--extensions", str(FIXTURES / "syntax_error")
    )
    assert result.returncode == 3 and result.stdout == b""
    assert b"hooks.py, line 5: SyntaxError" in result.stderr


def test_help_documents_the_exit_statuses() -> None:
    result = stack_runtime("invoke", "--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    for line in ("0  the call answered 200", "1  the call answered 422", "3  the extensions"):
        assert line in text
    overview = stack_runtime("--help").stdout.decode()
    assert "invoke" in overview and "init" in overview
