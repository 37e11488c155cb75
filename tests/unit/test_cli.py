"""The command line is built from the settings table: every setting's flag, where a command
has it, sets that setting; every variable a command reads is in its ``--help``."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack_runtime.cli import build_parser, settings_from
from stack_runtime.settings import (
    COMMANDS,
    SETTINGS,
    Choice,
    Folder,
    Integer,
    Seconds,
    Setting,
    Switch,
    settings_for,
)

CLI_COMMANDS = [c for c in COMMANDS if c != "lambda"]


def _given(spec: Setting) -> tuple[list[str], object]:
    """Command-line words that set ``spec`` to something other than its default, and the
    value they set."""
    assert spec.flag is not None
    kind = spec.kind
    if isinstance(kind, Switch):
        return [f"--no-{spec.flag[2:]}"], False
    if isinstance(kind, Integer):
        return [spec.flag, str(kind.minimum + 7)], kind.minimum + 7
    if isinstance(kind, Seconds):
        return [spec.flag, "2.5"], 2.5
    if isinstance(kind, Choice):
        return [spec.flag, kind.options[0]], kind.options[0]
    if isinstance(kind, Folder):
        return [spec.flag, "some/where"], Path("some/where")
    return [spec.flag, "::1"], "::1"


@pytest.mark.parametrize("command", CLI_COMMANDS)
def test_every_flag_of_the_table_sets_its_setting(
    command: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    for spec in SETTINGS:
        monkeypatch.delenv(spec.env, raising=False)
    flagged = [s for s in settings_for(command) if command in s.flag_in]
    for spec in flagged:
        words, value = _given(spec)
        extra = ["f"] if command == "invoke" else []
        settings = settings_from(build_parser().parse_args([command, *words, *extra]))
        assert getattr(settings, spec.name) == value, (command, spec.name)


@pytest.mark.parametrize("command", CLI_COMMANDS)
def test_help_names_each_variable_the_command_reads(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    text = capsys.readouterr().out
    environment = text.split("\nenvironment", 1)[1] if "\nenvironment" in text else ""
    for spec in SETTINGS:
        assert (spec.env in environment) == (command in spec.read_by), (command, spec.env)
        if spec.flag:
            assert (spec.flag in text) == (command in spec.flag_in), (command, spec.flag)


def test_the_overview_names_every_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = capsys.readouterr().out
    assert all(spec.env in text for spec in SETTINGS)


def test_a_bad_flag_value_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stack_runtime.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["serve", "--threads", "0"]) == 2
    assert "stack-runtime serve: --threads must be at least 1, got '0'" in capsys.readouterr().err


def test_a_stack_runtime_error_is_one_line_and_the_commands_exit_status(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stack_runtime.cli import main

    monkeypatch.chdir(tmp_path)
    folder = ["--extensions", str(tmp_path)]
    assert main(["package-lambda", *folder, "--python-version", "2.7"]) == 1  # TargetError
    err = capsys.readouterr().err
    assert err.startswith("stack-runtime package-lambda: ") and err.count("\n") == 1, err
    (tmp_path / "file").write_text("")
    assert main(["init", str(tmp_path / "file")]) == 2  # UsageError
    assert capsys.readouterr().err == f"stack-runtime init: {tmp_path / 'file'} is not a folder\n"
    missing = ["--extensions", str(tmp_path / "none")]
    assert main(["invoke", "f", "--flat", *missing]) == 3  # ExtensionLoadError, on invoke
    assert capsys.readouterr().err.startswith("stack-runtime invoke: cannot load extensions: ")
    assert main(["dev", *missing]) == 1  # the same error, on dev
    assert capsys.readouterr().err.startswith("stack-runtime dev: cannot load extensions: ")
