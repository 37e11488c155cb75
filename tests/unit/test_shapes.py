"""Result shapes checked against the typed models, kind by kind."""

from __future__ import annotations

from typing import Any

import pytest

from stack_runtime import samples
from stack_runtime.shapes import RESULT_MODELS, shape_problems


@pytest.mark.parametrize(
    ("kind", "options", "result"),
    [
        ("preSavePage", samples.pre_save_page([{}]), {"data": [{}], "errors": [], "abort": False}),
        ("preMap", samples.pre_map([{}, {}]), [{"data": {"a": 1}}, {}]),
        ("postMap", samples.post_map([{}]), [{"errors": [{"code": "c", "message": "m"}]}]),
        ("postSubmit", samples.post_submit([{}]), [{"statusCode": 200, "id": "1", "_json": [1]}]),
        ("postResponseMap", samples.post_response_map([{}]), [{"any": "record"}]),
        ("postAggregate", samples.post_aggregate(), None),
        ("ping", samples.ping(), {"statusCode": 401, "errors": [{"code": "c", "message": "m"}]}),
        ("export", samples.export(), {"data": [], "lastPage": True, "state": {"o": 1}}),
        ("import", samples.import_([{}]), [{"statusCode": 422, "errors": []}]),
        ("persistSettings", samples.persist_settings(), {"success": True, "settings": {}}),
        ("verifyCredentials", samples.installer(), "anything for an unknown kind"),
    ],
)
def test_good_results_have_no_problems(kind: str, options: Any, result: Any) -> None:
    assert shape_problems(kind, options, result) == []


@pytest.mark.parametrize(
    ("kind", "options", "result", "problem"),
    [
        ("preSavePage", {}, [{}], "result: expected an object (PreSavePageResult), got list"),
        ("preSavePage", {}, {"data": [], "abort": "no"}, "result['abort']: expected bool, got str"),
        ("preSavePage", {}, {"dat": []}, "result: 'data' is missing"),
        ("preMap", {"data": [{}]}, [{"data": 5}], "result[0]['data']: expected an object"),
        ("preMap", {"data": [{}]}, [{"errors": [{"code": "c"}]}], "'message' is missing"),
        ("postSubmit", {"responseData": [{}]}, [{"id": "1"}], "'statusCode' is missing"),
        ("postSubmit", {"responseData": [{}]}, [{"statusCode": True}], "expected int, got bool"),
        ("ping", {}, {"statusCode": 204}, "result['statusCode']: expected 200 or 401, got 204"),
        ("export", {}, {"data": [], "lastpage": True}, "'lastpage' is not a field of ExportResult"),
        ("import", {"postMapData": [{}, {}]}, [], "0 entries for 2 records in postMapData"),
        ("postAggregate", {}, {"ok": True}, "expected nothing (None), got dict"),
        ("persistSettings", {}, {"success": "yes"}, "expected bool, got str"),
    ],
)
def test_wrong_results_are_explained(kind: str, options: Any, result: Any, problem: str) -> None:
    problems = shape_problems(kind, options, result)
    assert any(problem in p for p in problems), problems


def test_every_kind_with_a_type_has_a_result_model() -> None:
    assert set(samples.KIND_TYPES) == set(RESULT_MODELS)
