"""The typed models: a type checker catches results of the wrong shape; plain dicts still work."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from stack_runtime import types as models

from ..conftest import ROOT

GOOD = """
from stack_runtime.client import IntegratorClient
from stack_runtime.types import PreMapOptions, PreMapResult, PreSavePageOptions, PreSavePageResult


def preMap(options: PreMapOptions) -> PreMapResult:
    return [{"data": dict(record, source="crm")} for record in options["data"]]


def preSavePage(options: PreSavePageOptions) -> PreSavePageResult:
    since = options.get("lastExportDateTime")
    stamp = since.isoformat() if since is not None else None
    flow = IntegratorClient.from_options(options).get(f"flows/{options.get('_flowId')}")
    return {"data": [dict(r, since=stamp, flow=flow) for r in options["data"]], "abort": False}
"""

BAD = """
from stack_runtime.types import PingOptions, PingResult, PreMapOptions, PreMapResult


def preMapReturnsAPage(options: PreMapOptions) -> PreMapResult:
    return {"data": options["data"]}


def preMapMisspellsData(options: PreMapOptions) -> PreMapResult:
    return [{"date": record} for record in options["data"]]


def pingWithAStrangeStatus(options: PingOptions) -> PingResult:
    return {"statusCode": 500}


def readsAMisspelledOption(options: PreMapOptions) -> PreMapResult:
    return [{"data": record} for record in options["dataa"]]
"""


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One ``mypy --strict`` run over a good file, a bad file and the bundled examples."""
    folder = tmp_path_factory.mktemp("typed")
    (folder / "good_hooks.py").write_text(GOOD)
    (folder / "bad_hooks.py").write_text(BAD)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(folder / ".mypy_cache"),
            str(folder / "good_hooks.py"),
            str(folder / "bad_hooks.py"),
            str(ROOT / "extensions" / "diy"),
        ],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=300,
        check=False,
    )
    assert "error: " in result.stdout or result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def errors_in(output: str, name: str) -> list[str]:
    return [line for line in output.splitlines() if re.match(rf".*{name}:\d+: error", line)]


def test_a_result_of_the_wrong_shape_is_caught(mypy_output: str) -> None:
    bad = errors_in(mypy_output, "bad_hooks.py")
    assert any(":6: error" in line and "incompatible return value" in line.lower() for line in bad)
    assert any(":10: error" in line and '"date"' in line for line in bad)
    assert any(":14: error" in line and "statusCode" in line for line in bad)
    assert any(":18: error" in line and '"dataa"' in line for line in bad)
    assert len(bad) == 4, mypy_output


def test_correct_hooks_and_the_bundled_examples_type_check(mypy_output: str) -> None:
    assert errors_in(mypy_output, "good_hooks.py") == []
    assert [line for line in mypy_output.splitlines() if "extensions" in line] == []


def test_every_field_is_documented() -> None:
    """Each field of each model has a docstring right under it (what an editor shows)."""
    source = Path(models.__file__).read_text()
    undocumented = re.findall(r"^    (\w+): .+\n(?!    \"\"\")", source, re.MULTILINE)
    assert undocumented == []
    for name in models.__all__:
        assert hasattr(models, name)


def test_models_are_plain_dicts_at_run_time() -> None:
    options: models.PreMapOptions = {"data": [{"id": 1}]}
    assert type(options) is dict and models.PreMapOptions.__required_keys__ == {"data"}
    assert "bearerToken" in models.PreMapOptions.__optional_keys__
