"""The pytest plugin, run inside pytest's own ``pytester``: a throwaway project per test."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from textwrap import dedent

import pytest

HOOKS = """
import datetime

_calls = []


class Refused(Exception):
    code = "refused"


def preSavePage(options):
    _calls.append(1)
    return {"data": [dict(r, seen=len(_calls)) for r in options["data"]], "errors": [], "abort": False}


def preMap(options):
    return [{"data": r} for r in options["data"]]


def echo(options):
    return options


def refuse(options):
    raise Refused("not today")


def crash(options):
    raise KeyError("missing")


def returnDate(options):
    return {"when": datetime.datetime.now()}


def big(options):
    return "x" * options["length"]


async def asyncHook(options):
    return {"data": [{"type": type(options.get("lastExportDateTime")).__name__}]}


def preMapAnswersAPage(options):
    return {"data": options["data"]}


def preMapMisspells(options):
    return [{"date": r} for r in options["data"]]


def preMapDropsOne(options):
    return [{"data": r} for r in options["data"][1:]]
"""


def package(pytester: pytest.Pytester, folder: str) -> Path:
    """``folder`` (and its parents) made, with an empty ``__init__.py``."""
    path = pytester.path / folder
    path.mkdir(parents=True, exist_ok=True)
    (path / "__init__.py").write_text("")
    return path


def make_project(pytester: pytest.Pytester, folder: str = "extensions") -> None:
    """An extensions folder with a DIY hooks module and one connector."""
    (package(pytester, f"{folder}/diy") / "hooks.py").write_text(HOOKS)
    (package(pytester, f"{folder}/connectors/abc123") / "__init__.py").write_text(
        "def whoami(options):\n    return 'connector abc123'\n"
    )


def test_plugin_is_registered_through_the_pytest11_entry_point(pytester: pytest.Pytester) -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("stack_runtime") == "stack_runtime.pytest_plugin"
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--stack-extensions=DIR*", "*stack_extensions*"])


def test_stack_calls_functions_as_integrator_io_does(pytester: pytest.Pytester) -> None:
    """Results are what integrator.io reads; failures are its 422 errors."""
    make_project(pytester)
    pytester.makepyfile(
        test_calls=dedent(
            """
            from datetime import datetime, timezone

            import pytest

            from stack_runtime.testing import ExtensionCallError


            def test_records_get_the_standard_envelope(stack):
                result = stack.call("preSavePage", records=[{"id": 1}])
                assert result == {"data": [{"id": 1, "seen": 1}], "errors": [], "abort": False}


            def test_each_test_imports_the_extensions_afresh(stack):
                assert stack.call("preSavePage", records=[{"id": 1}])["data"][0]["seen"] == 1
                assert stack.call("preSavePage", records=[{"id": 1}])["data"][0]["seen"] == 2


            def test_options_make_a_json_round_trip(stack):
                sent = stack.call("echo", {"pair": (1, 2), "when": datetime(2024, 1, 2)}, type="hook")
                assert sent == {"pair": [1, 2], "when": "2024-01-02T00:00:00"}


            def test_export_dates_arrive_as_datetimes(stack):
                options = stack.options("preSavePage", [], lastExportDateTime="2024-01-02T03:04:05Z")
                assert stack.call("asyncHook", options, kind="preSavePage") == {
                    "data": [{"type": "datetime"}]}


            def test_a_raised_error_is_the_422(stack):
                with pytest.raises(ExtensionCallError) as failed:
                    stack.call("refuse", {"a": 1}, type="hook")
                assert failed.value.status == 422
                assert failed.value.errors == [{"code": "refused", "message": "not today"}]
                assert stack.invoke("crash", {"a": 1}, type="hook").codes == ["KeyError"]


            def test_results_are_checked_like_the_server_checks_them(stack):
                assert stack.invoke("returnDate", {"a": 1}, type="hook").codes == [
                    "invalid_extension_response"]
                small = stack.invoke("big", {"length": 10}, type="hook", max_response_size=12)
                assert small.ok and small.result == "x" * 10
                large = stack.invoke("big", {"length": 11}, type="hook", max_response_size=12)
                assert large.codes == ["response_size_exceeded"]
                assert large.body == (
                    b'{"errors":[{"message":"response stream exceeded limit of 12 bytes.",'
                    b'"code":"response_size_exceeded"}]}')


            def test_resolution_errors_are_the_protocols(stack):
                assert stack.invoke("nothing", {"a": 1}, type="hook").codes == ["invalid_function"]
                assert stack.invoke("echo", {"a": 1}, type="nope").codes == ["object_not_found"]
                assert stack.invoke("echo", {}, type="hook").result == {}


            def test_connectors(stack):
                assert stack.call("whoami", {"a": 1}, type=None, connector="abc123") == (
                    "connector abc123")
                assert stack.invoke("whoami", {"a": 1}, type=None, connector="zzz").codes == [
                    "invalid_field"]


            def test_type_is_taken_from_the_kind_or_asked_for(stack):
                assert stack.call("preMap", records=[{"n": 1}]) == [{"data": {"n": 1}}]
                with pytest.raises(ValueError, match="cannot tell the type of 'echo'"):
                    stack.call("echo", {"a": 1})
            """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=9)


def test_a_result_of_the_wrong_shape_for_its_kind_fails(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    pytester.makepyfile(
        test_shapes=dedent(
            """
            import pytest

            from stack_runtime.testing import ResultShapeError

            RECORDS = [{"n": 1}, {"n": 2}]


            @pytest.mark.parametrize("function", ["preMapAnswersAPage", "preMapMisspells",
                                                  "preMapDropsOne"])
            def test_shape(stack, function):
                stack.call(function, records=RECORDS, kind="preMap")


            def test_the_check_can_be_skipped(stack):
                answer = stack.call("preMapDropsOne", records=RECORDS, kind="preMap",
                                    check_shape=False)
                assert answer == [{"data": {"n": 2}}]
                with pytest.raises(ResultShapeError) as wrong:
                    stack.call("preMapDropsOne", records=RECORDS, kind="preMap")
                assert wrong.value.problems == [
                    "result: 1 entries for 2 records in data; preMap must answer one entry "
                    "per record, in order"]
            """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=3, passed=1)
    result.stdout.fnmatch_lines_random(
        [
            "*ResultShapeError: preMapAnswersAPage returned a result of the wrong shape for preMap:",
            "*result: expected a list, got dict",
            "*result[[]0[]]: 'date' is not a field of RecordResult (integrator.io ignores it*",
            "*result: 1 entries for 2 records in data*",
        ]
    )


def test_a_failing_call_shows_the_errors_and_the_traceback(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    pytester.makepyfile(
        test_fails="def test_it(stack):\n    stack.call('crash', {'a': 1}, type='hook')\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ExtensionCallError: crash answered 422:*missing*KeyError*",
            "*functionFailed*",
            "*hooks.py*in crash*",
        ]
    )


def test_the_folder_comes_from_the_ini_option(pytester: pytest.Pytester) -> None:
    make_project(pytester, "src/my_ext")
    pytester.makeini("[pytest]\nstack_extensions = src/my_ext\n")
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_ini.py").write_text(
        "def test_it(stack):\n    assert stack.call('preMap', records=[{}]) == [{'data': {}}]\n"
    )
    # From another directory, the ini option is still read relative to the ini file.
    result = pytester.runpytest("-p", "no:cacheprovider", "tests")
    result.assert_outcomes(passed=1)


def test_the_command_line_option_wins(pytester: pytest.Pytester) -> None:
    make_project(pytester, "one")
    make_project(pytester, "two")
    (pytester.path / "two" / "diy" / "hooks.py").write_text(
        "def preMap(options):\n    return [{'data': {'from': 'two'}}]\n"
    )
    pytester.makeini("[pytest]\nstack_extensions = one\n")
    pytester.makepyfile(
        test_opt="def test_it(stack):\n"
        "    assert stack.call('preMap', records=[{}]) == [{'data': {'from': 'two'}}]\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--stack-extensions", "two")
    result.assert_outcomes(passed=1)


def test_the_default_is_the_extensions_folder_above_the_test(pytester: pytest.Pytester) -> None:
    make_project(pytester, "project/extensions")
    pytester.mkdir("project/tests")
    (pytester.path / "project" / "tests" / "test_default.py").write_text(
        "def test_it(stack):\n    assert stack.call('preMap', records=[{}]) == [{'data': {}}]\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "project/tests")
    result.assert_outcomes(passed=1)


def test_a_load_error_names_the_file_and_line(pytester: pytest.Pytester) -> None:
    (package(pytester, "extensions/diy") / "hooks.py").write_text("x = 1\ndef broken(:\n")
    pytester.makepyfile(test_broken="def test_it(stack):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*cannot load the extensions: *hooks.py, line 2: SyntaxError*", "*--stack-extensions*"]
    )


def test_a_missing_folder_says_where_it_looked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_it(stack):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--stack-extensions", "nowhere")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cannot load the extensions: *nowhere*not found*"])
