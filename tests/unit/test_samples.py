"""Sample options: what integrator.io sends for each kind of function."""

from __future__ import annotations

import orjson
import pytest

from stack_runtime import samples
from stack_runtime.devtools.local import build_envelope
from stack_runtime.exceptions import EnvelopeError


def test_record_kinds_put_the_records_where_integrator_io_does() -> None:
    records = [{"id": 1}]
    assert samples.pre_save_page(records)["data"] == records
    assert samples.pre_map(records)["data"] == records
    post_map = samples.post_map(records, post_map_data=[{"mapped": 1}])
    assert (post_map["preMapData"], post_map["postMapData"]) == (records, [{"mapped": 1}])
    post_submit = samples.post_submit(records)
    assert post_submit["responseData"] == [
        {"statusCode": 200, "id": "dest-1", "ignored": False, "errors": [], "_json": {}}
    ]
    assert samples.post_response_map(records)["postResponseMapData"] == records
    assert samples.import_(records)["postMapData"] == records


def test_flow_hooks_carry_ids_settings_and_the_job() -> None:
    options = samples.pre_save_page([])
    assert options["_exportId"] == samples.EXPORT_ID and options["pageIndex"] == 0
    assert options["job"]["_flowId"] == options["_flowId"] == samples.FLOW_ID
    assert set(options["settings"]) == {"integration", "flowGrouping", "flow", "export"}
    assert "_importId" in samples.pre_map([]) and options["bearerToken"]


def test_records_are_copied_and_overrides_replace_fields() -> None:
    records = [{"tags": ["a"]}]
    options = samples.pre_map(records, testMode=True, _importId="mine")
    options["data"][0]["tags"].append("b")
    assert records == [{"tags": ["a"]}]
    assert options["testMode"] is True and options["_importId"] == "mine"


def test_every_sample_is_json_data() -> None:
    for kind in samples.KIND_TYPES:
        options = samples.options_for(kind, [{"id": 1}] if samples.takes_records(kind) else None)
        assert orjson.loads(orjson.dumps(options)) == options


def test_options_for_picks_by_kind_then_by_type() -> None:
    assert "connection" in samples.options_for("ping")
    assert samples.options_for("anyStep", type="installer")["opts"] == {"edition": "standard"}
    assert set(samples.options_for("anything")) == {
        "bearerToken",
        "_integrationId",
        "settings",
        "configuration",
    }
    with pytest.raises(samples.SampleError, match="kind ping takes no records"):
        samples.options_for("ping", [{}])
    with pytest.raises(samples.SampleError, match="list of records"):
        samples.options_for("preMap", {"id": 1})  # type: ignore[arg-type]


def test_envelopes_take_the_type_from_the_kind() -> None:
    assert build_envelope("preMap", {"a": 1}) == {
        "diy": True,
        "type": "hook",
        "function": "preMap",
        "options": {"a": 1},
    }
    assert build_envelope("mine", {}, kind="ping", connector="c1", max_response_size=9) == {
        "_connectorId": "c1",
        "type": "wrapper",
        "function": "mine",
        "options": {},
        "maxResponseSize": 9,
    }
    assert "type" not in build_envelope("flat", {}, type=None)
    with pytest.raises(EnvelopeError, match="cannot tell the type of 'step'"):
        build_envelope("step", {})
