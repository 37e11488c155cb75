"""The Lambda stack's pure parts: classifying invocations, settings, targets, requirements."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from stack_runtime.aws_lambda.bootstrap import add_layer_paths
from stack_runtime.aws_lambda.config import LambdaConfig
from stack_runtime.aws_lambda.envelope import classify, is_http_event, parse_client_context
from stack_runtime.aws_lambda.invocation import ClientContextCapture
from stack_runtime.aws_lambda.package import LAMBDA_DISTRIBUTIONS, lambda_requirements
from stack_runtime.aws_lambda.target import LambdaTarget
from stack_runtime.core.errors import ErrorItem
from stack_runtime.exceptions import SettingsError, TargetError

V2 = {"version": "2.0", "requestContext": {"http": {"method": "POST"}}}
V1 = {"resource": "/x", "httpMethod": "POST", "requestContext": {"stage": "prod"}}
ALB = {"httpMethod": "GET", "requestContext": {"elb": {"targetGroupArn": "arn"}}}


def test_client_context_envelope_makes_the_event_the_options() -> None:
    context = {"diy": True, "type": "hook", "function": "f", "maxResponseSize": 10}
    invocation = classify({"function": "x", "options": 1}, context)
    assert invocation.kind == "call" and invocation.source == "client-context"
    assert invocation.envelope == {**context, "options": {"function": "x", "options": 1}}


def test_options_in_the_client_context_never_override_the_payload() -> None:
    invocation = classify([1], {"_connectorId": "c", "function": "f", "options": "no"})
    assert invocation.envelope == {"_connectorId": "c", "function": "f", "options": [1]}


@pytest.mark.parametrize("event", [V2, V1, ALB])
def test_http_events(event: dict[str, Any]) -> None:
    assert is_http_event(event)
    assert classify(event, None).kind == "http"
    assert classify(event, {"custom": {}}).kind == "http"


@pytest.mark.parametrize(
    "event", [{}, {"requestContext": "x"}, {"requestContext": {}}, [V2], "text", None]
)
def test_not_http_events(event: Any) -> None:
    assert not is_http_event(event)


def test_whole_envelope_event() -> None:
    envelope = {"diy": True, "function": "f", "options": {}}
    invocation = classify(envelope, None)
    assert invocation.kind == "call" and invocation.source == "event"
    assert invocation.envelope is envelope


@pytest.mark.parametrize("event", [{"data": []}, [], None, 0, "x"])
def test_bare_payload_is_options_without_an_envelope(event: Any) -> None:
    assert classify(event, None).envelope == {"options": event}
    assert classify(event, {"custom": {"a": 1}}).envelope == {"options": event}


def test_a_dropped_client_context_is_reported() -> None:
    assert classify({"data": []}, None, context_dropped=True).kind == "dropped"
    # a whole envelope needs no client context, dropped or not
    assert classify({"diy": True}, None, context_dropped=True).kind == "call"


@pytest.mark.parametrize("raw", [None, "", "[1]", '"s"'])
def test_client_contexts_that_are_not_objects_are_none(raw: Any) -> None:
    assert parse_client_context(raw) is None


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        ("not json", "invalid_json", "The client context is not valid JSON: invalid literal"),
        (b"\xff", "invalid_json", "The client context is not valid JSON: "),
        ('{"type": NaN}', "invalid_json", "The client context is not valid JSON: unexpected"),
        (
            '{"diy": true, "function": ' + "[" * 1100 + "]" * 1100 + "}",
            "nesting_too_deep",
            "The client context nests arrays and objects deeper than 1024 levels, in the field "
            "function.",
        ),
    ],
)
def test_unreadable_client_contexts_are_refused_saying_why(
    raw: Any, code: str, message: str
) -> None:
    error = parse_client_context(raw)
    assert isinstance(error, ErrorItem)
    assert error.code == code
    assert error.message.startswith(message)


def test_client_context_is_read_per_request_id() -> None:
    capture = ClientContextCapture()
    assert not capture.active
    capture.record("r1", '{"diy":true}')
    assert capture.active
    assert capture.raw_for("r1") == '{"diy":true}'
    assert capture.raw_for("r2") is None
    assert capture.raw_for(None) is None


def test_config_defaults_to_extensions_in_the_task_root() -> None:
    config = LambdaConfig.from_environ({"LAMBDA_TASK_ROOT": "/var/task"})
    assert config.extensions_dir == Path("/var/task/extensions")
    assert config.system_tokens == ()
    assert config.log_level == "info"
    assert config.call_timeout is None


def test_config_from_the_environment() -> None:
    config = LambdaConfig.from_environ(
        {
            "LAMBDA_TASK_ROOT": "/var/task",
            "STACK_EXTENSIONS_DIR": "code/ext",
            "INTEGRATOR_EXTENSION_SYSTEM_TOKEN": "new",
            "INTEGRATOR_EXTENSION_SYSTEM_TOKEN_PREVIOUS": "old",
            "STACK_LOG_LEVEL": "WARNING",
            "STACK_CALL_TIMEOUT": "12.5",
        }
    )
    assert config.extensions_dir == Path("/var/task/code/ext")
    assert config.system_tokens == ("new", "old")
    assert config.log_level == "warning"
    assert config.call_timeout == 12.5
    absolute = LambdaConfig.from_environ({"STACK_EXTENSIONS_DIR": "/opt/ext"})
    assert absolute.extensions_dir == Path("/opt/ext")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STACK_LOG_LEVEL": "loud"}, "STACK_LOG_LEVEL must be one of"),
        ({"STACK_CALL_TIMEOUT": "soon"}, "STACK_CALL_TIMEOUT must be a number"),
        ({"STACK_CALL_TIMEOUT": "0"}, "STACK_CALL_TIMEOUT must be above 0"),
    ],
)
def test_bad_config(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        LambdaConfig.from_environ(env)


def test_platform_tags_stop_at_the_runtime_glibc() -> None:
    tags = LambdaTarget("x86_64", "3.11").platform_tags()
    assert tags[0] == "manylinux_2_26_x86_64"
    assert "manylinux_2_28_x86_64" not in tags
    assert {"manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64"} <= set(tags)
    arm = LambdaTarget("arm64", "3.12").platform_tags()
    assert arm[0] == "manylinux_2_34_aarch64"
    assert "manylinux2014_aarch64" in arm
    assert all(tag.endswith("_aarch64") for tag in arm)


@pytest.mark.parametrize(("arch", "python"), [("x86", "3.11"), ("arm64", "3.10"), ("arm64", "3")])
def test_unknown_targets(arch: str, python: str) -> None:
    with pytest.raises(TargetError):
        LambdaTarget(arch, python)


def test_lambda_requirements_carry_the_project_version_ranges() -> None:
    requirements = lambda_requirements()
    assert [r.split(">")[0].split("<")[0] for r in requirements] == list(LAMBDA_DISTRIBUTIONS)
    assert "orjson>=3.10" in requirements
    assert any(r.startswith("awslambdaric") and "<5" in r and ">=4" in r for r in requirements)
    assert not any(";" in r for r in requirements)


def test_layer_folders_go_after_the_package(tmp_path: Path) -> None:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (tmp_path / "python" / "lib" / version / "site-packages").mkdir(parents=True)
    before = list(sys.path)
    added = add_layer_paths(str(tmp_path))
    assert added == [f"{tmp_path}/python", f"{tmp_path}/python/lib/{version}/site-packages"]
    assert sys.path == before + added
    assert add_layer_paths(str(tmp_path)) == []
    assert add_layer_paths(str(tmp_path / "none")) == []


def test_config_reads_the_settings_table() -> None:
    """Lambda reads STACK_CALL_TIMEOUT as the commands do: any number of seconds above 0,
    and STACK_LOG_LEVEL in any case; an empty variable counts as unset."""
    config = LambdaConfig.from_environ(
        {"STACK_CALL_TIMEOUT": "0.0005", "STACK_LOG_LEVEL": "", "PORT": "not read on Lambda"}
    )
    assert (config.call_timeout, config.log_level) == (0.0005, "info")
