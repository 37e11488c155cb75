from __future__ import annotations

from pathlib import Path

import pytest

from stack_runtime.exceptions import SettingsError
from stack_runtime.settings import (
    SETTINGS,
    Settings,
    load_settings,
    setting,
    settings_reference,
)


def test_precedence_flags_env_dotenv_defaults(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "PORT=7000\nSTACK_THREADS=5\nSTACK_WORKERS=3\nINTEGRATOR_EXTENSION_SYSTEM_TOKEN=dot\n"
    )
    env = {"PORT": "7500", "STACK_THREADS": "9"}
    settings = load_settings({"port": 8000}, environ=env, dotenv_path=dotenv)
    assert settings.port == 8000  # flag
    assert settings.threads == 9  # environment over .env
    assert settings.workers == 3  # .env
    assert settings.system_tokens == ("dot",)
    assert settings.call_timeout == Settings().call_timeout  # default


def test_rotation_tokens() -> None:
    env = {
        "INTEGRATOR_EXTENSION_SYSTEM_TOKEN": "new",
        "INTEGRATOR_EXTENSION_SYSTEM_TOKEN_PREVIOUS": "old",
    }
    assert load_settings(environ=env, dotenv_path=None).system_tokens == ("new", "old")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "abc"}, "PORT"),
        ({"PORT": "70000"}, "65535"),
        ({"STACK_THREADS": "0"}, "STACK_THREADS"),
        ({"STACK_LOG_LEVEL": "loud"}, "STACK_LOG_LEVEL must be one of debug, info"),
        ({"STACK_BLOCKED_LOOP": "0"}, "STACK_BLOCKED_LOOP"),
        ({"STACK_BLOCKED_LOOP": "soon"}, "STACK_BLOCKED_LOOP"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=env, dotenv_path=None)


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().port = 1  # type: ignore[misc]


def test_drain_and_metrics_settings() -> None:
    env = {"STACK_DRAIN_DELAY": "2.5", "STACK_METRICS_PORT": "9100"}
    settings = load_settings({"drain_idle_wait": 0}, environ=env, dotenv_path=None)
    assert (settings.drain_delay, settings.drain_idle_wait, settings.metrics_port) == (2.5, 0, 9100)
    defaults = load_settings(environ={}, dotenv_path=None)
    assert (defaults.drain_delay, defaults.drain_idle_wait, defaults.metrics_port) == (30, 20, 0)
    with pytest.raises(SettingsError, match="metrics port must differ"):
        load_settings({"port": 9100, "metrics_port": 9100}, environ={}, dotenv_path=None)
    with pytest.raises(SettingsError, match="--drain-delay"):
        load_settings({"drain_delay": "-1"}, environ={}, dotenv_path=None)


def test_direct_path_setting() -> None:
    """On by default; off by STACK_DIRECT_PATH=false or --no-direct-path (flags first)."""
    assert load_settings(environ={}, dotenv_path=None).direct_path is True
    env = {"STACK_DIRECT_PATH": "false"}
    assert load_settings(environ=env, dotenv_path=None).direct_path is False
    assert load_settings({"direct_path": True}, environ=env, dotenv_path=None).direct_path is True
    with pytest.raises(SettingsError, match="STACK_DIRECT_PATH"):
        load_settings(environ={"STACK_DIRECT_PATH": "maybe"}, dotenv_path=None)


def test_blocked_loop_setting() -> None:
    assert load_settings(environ={}, dotenv_path=None).blocked_loop == 0.1
    assert (
        load_settings(environ={"STACK_BLOCKED_LOOP": "0.5"}, dotenv_path=None).blocked_loop == 0.5
    )
    given = load_settings(
        {"blocked_loop": 0.25}, environ={"STACK_BLOCKED_LOOP": "2"}, dotenv_path=None
    )
    assert given.blocked_loop == 0.25


def test_the_table_gives_the_defaults() -> None:
    """Each field of Settings defaults to its setting's default; every setting but the two
    tokens (which fill system_tokens) is a field."""
    fields = {name: getattr(Settings(), name) for name in Settings.__dataclass_fields__}
    for spec in SETTINGS:
        if spec.name in ("system_token", "previous_system_token"):
            continue
        assert fields[spec.name] == spec.default, spec.name
    assert {s.name for s in SETTINGS} - set(fields) == {"system_token", "previous_system_token"}
    assert set(fields) - {s.name for s in SETTINGS} == {"system_tokens"}


def test_each_command_reads_its_own_settings_and_defaults() -> None:
    env = {"PORT": "not a port", "STACK_LOG_LEVEL": ""}
    invoke = load_settings(environ=env, dotenv_path=None, command="invoke")  # PORT not read
    assert (invoke.log_level, invoke.port) == ("warning", 8080)
    assert load_settings(environ={}, dotenv_path=None, command="dev").host == "127.0.0.1"
    with pytest.raises(SettingsError, match="PORT must be a whole number, got 'not a port'"):
        load_settings(environ=env, dotenv_path=None, command="dev")
    with pytest.raises(TypeError, match="no such setting: colour"):
        load_settings({"colour": "blue"}, environ={}, dotenv_path=None)


def test_an_error_names_where_the_value_came_from(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("STACK_CALL_TIMEOUT=0\n")
    with pytest.raises(SettingsError, match=r"STACK_CALL_TIMEOUT \(in .env\) must be above 0"):
        load_settings(environ={}, dotenv_path=dotenv)
    with pytest.raises(SettingsError, match="--call-timeout must be a number, got 'nan'"):
        load_settings({"call_timeout": "nan"}, environ={}, dotenv_path=None)
    # Any number of seconds above 0 is a call timeout, on every face.
    assert load_settings({"call_timeout": "0.0005"}, dotenv_path=None).call_timeout == 0.0005


def test_the_reference_lists_every_setting() -> None:
    reference = settings_reference()
    rows = [line for line in reference.splitlines() if line.startswith("| `")]
    assert len(rows) == len(SETTINGS)
    for spec, row in zip(SETTINGS, rows, strict=True):
        assert row.startswith(f"| `{spec.env}` |")
        if spec.flag:
            assert f"`{spec.flag}" in row
        assert spec.help[1:] in row
    assert "| `STACK_HOST` | `--host HOST` | text | `0.0.0.0`; `dev`: 127.0.0.1 |" in reference


def test_a_readers_reference_lists_what_it_reads_with_its_own_defaults_and_notes() -> None:
    reference = settings_reference("lambda")
    rows = [line for line in reference.splitlines() if line.startswith("| `")]
    read = [spec for spec in SETTINGS if "lambda" in spec.read_by]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{spec.env}`" for spec in read]
    assert reference.startswith("| Environment variable | Value | Default | Meaning |")
    assert "--" not in reference.replace("| --- ", "")  # Lambda has no flags
    timeout = setting("call_timeout")
    row = next(r for r in rows if r.startswith(f"| `{timeout.env}`"))
    assert f"| {timeout.shown[None]} |" in row  # Lambda's default, not serve's
    assert timeout.notes["lambda"] in row
    token = next(r for r in rows if r.startswith("| `INTEGRATOR_EXTENSION_SYSTEM_TOKEN` |"))
    assert setting("system_token").notes["dev"] not in token  # another reader's note
    # A command with flags keeps the flag column.
    assert settings_reference("dev").startswith("| Environment variable | Flag |")
    with pytest.raises(ValueError, match="no such reader"):
        settings_reference("deploy")
