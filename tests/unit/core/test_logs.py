"""Log lines: the direct path for per-request lines, request ids, key=value escaping."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from stack_runtime.core.logs import (
    KeptLines,
    _c_info_line,
    _c_keep,
    _LineFormatter,
    configure_logging,
    keep_lines_in,
    kv,
    log_info,
    logger,
    new_request_id,
    preview,
    python_kv_pairs,
)

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING) (.*)$")


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    saved = (list(logger.handlers), logger.level, logger.propagate, list(logger.filters))
    configure_logging("info")
    buffer = io.StringIO()
    handler = logger.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    logger.handlers[:], logger.level, logger.propagate, logger.filters[:] = saved


def lines(buffer: io.StringIO) -> list[tuple[str, str]]:
    found = []
    for line in buffer.getvalue().splitlines():
        match = LINE.match(line)
        assert match, line
        found.append((match.group(1), match.group(2)))
    return found


def test_log_info_writes_what_logger_info_writes(stream: io.StringIO) -> None:
    log_info("logName=reqFinished, statusCode=200, note=100%")
    logger.info("logName=reqFinished, statusCode=200, note=100%")
    logger.warning("logName=other")
    assert lines(stream) == [
        ("INFO", "logName=reqFinished, statusCode=200, note=100%"),
        ("INFO", "logName=reqFinished, statusCode=200, note=100%"),
        ("WARNING", "logName=other"),
    ]


def test_log_info_respects_the_level(stream: io.StringIO) -> None:
    logger.setLevel("WARNING")
    log_info("logName=hidden")
    assert stream.getvalue() == ""


def test_log_info_reaches_handlers_added_later(stream: io.StringIO) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger.addHandler(Keep())
    log_info("logName=seen, by=both")
    assert [r.getMessage() for r in records] == ["logName=seen, by=both"]
    assert lines(stream) == [("INFO", "logName=seen, by=both")]


def test_log_info_goes_through_logging_when_the_format_changes(stream: io.StringIO) -> None:
    logger.handlers[0].setFormatter(logging.Formatter("custom %(levelname)s %(message)s"))
    log_info("logName=x")
    assert stream.getvalue() == "custom INFO logName=x\n"


def test_log_info_without_configuration_propagates(caplog: pytest.LogCaptureFixture) -> None:
    saved = (list(logger.handlers), logger.propagate)
    logger.handlers[:] = []
    logger.propagate = True
    try:
        with caplog.at_level(logging.INFO, logger="stack_runtime"):
            log_info("logName=captured")
    finally:
        logger.handlers[:], logger.propagate = saved
    assert [r.getMessage() for r in caplog.records] == ["logName=captured"]


def test_request_ids_are_time_and_four_base36_characters() -> None:
    ids = {new_request_id() for _ in range(200)}
    assert all(re.fullmatch(r"\d{13}[0-9a-z]{4}", i) for i in ids)
    assert len({i[-4:] for i in ids}) > 150


def test_kv_escapes_control_characters_only() -> None:
    assert kv(a="x\ny\x7f", b="Zoë ok\u00a0", c=None, d=3.0, e=True) == (
        "a=x\\x0ay\\x7f, b=Zoë ok\u00a0, d=3, e=true"
    )


class _CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_later_lines_wait_for_the_loop_and_are_never_overtaken(stream: io.StringIO) -> None:
    """1. on a loop, two `later` lines are not written at once; 2. a warning logged next is
    written after them; 3. two more `later` lines go out together on the loop's next turn;
    4. without a loop, `later` writes at once."""
    import asyncio

    counting = _CountingStream()
    handler = logger.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(counting)
    logger.handlers[:] = [handler]  # without pytest's capture handlers (the fixture restores them)

    async def main() -> None:
        log_info("first", later=True)
        log_info("second", later=True)
        assert counting.getvalue() == ""
        logger.warning("third")
        log_info("fourth", later=True)
        log_info("fifth", later=True)
        writes = counting.writes
        await asyncio.sleep(0)
        assert counting.writes == writes + 1

    asyncio.run(main())
    log_info("sixth", later=True)
    assert [m for _, m in lines(counting)] == [
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
    ]


def test_lines_kept_for_later_are_written_by_a_flush(stream: io.StringIO) -> None:
    """A loop that stops before its next turn loses nothing: logging.shutdown flushes."""
    import asyncio

    handler = logger.handlers[0]
    logger.handlers[:] = [handler]  # without pytest's capture handlers (the fixture restores them)

    async def main() -> None:
        log_info("kept", later=True)
        assert stream.getvalue() == ""
        handler.flush()
        assert [m for _, m in lines(stream)] == ["kept"]

    asyncio.run(main())


def test_later_lines_follow_the_loop_that_runs_now(stream: io.StringIO) -> None:
    """The handler remembers the running loop: a second loop in the same thread, and a
    loop in another thread, each get their own lines written on their next turn."""
    import asyncio
    import threading

    handler = logger.handlers[0]
    logger.handlers[:] = [handler]  # without pytest's capture handlers (the fixture restores them)

    written_on_next_turn = []

    async def main(name: str) -> None:
        log_info(name, later=True)
        await asyncio.sleep(0)
        written_on_next_turn.append(name in stream.getvalue())

    asyncio.run(main("one"))
    asyncio.run(main("two"))
    thread = threading.Thread(target=asyncio.run, args=(main("three"),))
    thread.start()
    thread.join()
    asyncio.run(main("four"))
    assert written_on_next_turn == [True, True, True, True]
    assert [m for _, m in lines(stream)] == ["one", "two", "three", "four"]


def _deep(levels: int, inner: Any) -> Any:
    value = inner
    for _ in range(levels):
        value = [value]
    return value


_KV_VALUES: list[tuple[object, ...]] = [
    ("callFunctionInvoked", "hook", "echo", None, "65a1f0c2", None, None),
    ("reqFinished", "POST", "/function", 200, "12ms", "1795864001871abcd", None),
    (None, None, None, None, None, None, None),
    ("Zoë", "😀", "\u2028 line separator", "tab\there", "bell\x07", "del\x7f", "ok"),
    (True, False, 1.5, -0.0, 2**80, [1, "a"], {"k": None}),
    ("", 0, -7, "a=b, c", "x", "y", "z"),
    # integers beyond 2**53 are JavaScript numbers (Python builds those lines)
    ("x", 2**53 - 1, -(2**53) + 1, 2**53, -(2**53), 10**30, 10**400),
    ("x", _deep(100_000, "hook"), _deep(50_000, {"a": 1}), _deep(1024, [1, [2, None]]), 1, 2, 3),
]


@pytest.mark.parametrize("values", _KV_VALUES, ids=range(len(_KV_VALUES)))
def test_log_lines_in_c_read_as_in_python(values: tuple[object, ...]) -> None:
    """``kv_pairs`` (C where it applies) and ``python_kv_pairs`` give the same text."""
    from stack_runtime.core.logs import kv_pairs, python_kv_pairs

    keys = ("a", "b", "c", "d", "e", "f", "g")
    assert kv_pairs(keys, values) == python_kv_pairs(keys, values)


def test_the_c_lines_are_built_and_take_the_usual_lines() -> None:
    """The package builds ``_lines.c``; without a C compiler Python builds every line."""
    from stack_runtime.core import _lines
    from stack_runtime.core.logs import C_LINES

    assert C_LINES, "stack_runtime.core._lines is not built: install gcc, then pip install -e ."
    assert _lines.kv_pairs(("a", "b"), ("x", 1)) == "a=x, b=1"
    assert _lines.kv_pairs(("a",), ("bell\x07",)) is None  # escaped by Python
    assert _lines.kv_pairs(("a",), (True,)) is None  # js_string by Python


def test_a_stream_without_flush_still_gets_its_lines(
    stream: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    class WriteOnly:
        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> int:
            self.text += text
            return len(text)

    target = WriteOnly()
    handler = logger.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(target)  # type: ignore[arg-type]
    logger.handlers[:] = [handler]  # without pytest's capture handlers (the fixture restores them)
    log_info("kept")
    assert target.text.endswith(" INFO kept\n")
    assert "Logging error" not in capsys.readouterr().err


def test_a_line_that_must_survive_waits_only_while_a_kept_page_holds_it(
    stream: io.StringIO,
) -> None:
    """1. without a page, a `survive` line is written at once, even on a loop;
    2. with one, it waits like a `later` line, and the page holds a copy of what waits;
    3. once written (the loop's next turn), the page is empty again;
    4. another process reading the page while lines wait gets exactly them."""
    import asyncio

    handler = logger.handlers[0]
    logger.handlers[:] = [handler]  # without pytest's capture handlers (the fixture restores them)
    kept = KeptLines()

    async def main() -> None:
        log_info("invoked-1", later=True, survive=True)
        assert [m for _, m in lines(stream)] == ["invoked-1"]
        keep_lines_in(kept)
        log_info("invoked-2", later=True, survive=True)
        log_info("finished-2", later=True)
        assert [m for _, m in lines(stream)] == ["invoked-1"]
        copy = kept.page[: kept.SIZE]  # as the master would read it
        await asyncio.sleep(0)
        assert [m for _, m in lines(stream)] == ["invoked-1", "invoked-2", "finished-2"]
        assert kept.take() == b""
        held = KeptLines()
        held.page[:] = copy
        recovered = io.StringIO(held.take().decode())
        assert [m for _, m in lines(recovered)] == ["invoked-2", "finished-2"]

    try:
        asyncio.run(main())
    finally:
        keep_lines_in(None)
        kept.close()


def test_the_c_stamp_reads_as_the_python_one() -> None:
    """Times across seconds, at their edges and in other years, and lines in any script:
    the same text from ``_lines.c`` and from the formatter's Python stamp."""
    import random
    import time

    assert _c_info_line is not None, (
        "stack_runtime.core._lines is not built: install gcc, then make"
    )
    formatter = _LineFormatter()
    rng = random.Random(7)
    now = time.time()
    times = [now, float(int(now)), int(now) + 0.999, int(now) + 0.9999999, 0.0, 1e9 + 0.5]
    times += [rng.uniform(0, 4e9) for _ in range(2000)]
    for created in times:
        for line in ("logName=reqFinished, statusCode=200", "función=café", "emoji=\U0001f600", ""):
            assert _c_info_line(line, created) == f"{formatter.stamp(created)} INFO {line}\n"
    assert _c_info_line("x", -1.0) is None  # before 1970: left to Python
    assert formatter.info_line("x", -1.0).endswith(" INFO x\n")


def test_the_c_copy_into_a_kept_page_is_the_python_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same lines put on two pages, one by ``_lines.c``, one by Python: the same bytes,
    and both refuse the line that does not fit."""
    assert _c_keep is not None, "stack_runtime.core._lines is not built: install gcc, then make"
    import stack_runtime.core.logs as logs

    lines_to_keep = ["2026-01-01 00:00:00,000 INFO café\n", "x" * 40_000, "y" * 30_000, "z\n"]
    lines_to_keep.append("lone \ud800 surrogate\n")
    pages = []
    for c in (True, False):
        if not c:
            monkeypatch.setattr(logs, "_c_keep", None)
        page = KeptLines()
        fits = [page.put(text) for text in lines_to_keep]
        pages.append((fits, page.used, page.take()))
        page.close()
    assert pages[0] == pages[1]
    assert pages[0][0] == [True, True, False, True, False]


def test_deep_and_large_values_read_in_a_line_as_javascript_writes_them() -> None:
    """The ``callFunctionInvoked`` line takes envelope values of any depth without recursing."""
    values = ("hook", _deep(100_000, "echo"), _deep(5_000, [1, None]), 2**60)
    line = kv(a=values[0], b=values[1], c=values[2], d=values[3])
    assert line == "a=hook, b=echo, c=1,, d=1152921504606847000"
    assert python_kv_pairs("abcd", values) == line


@pytest.mark.parametrize(
    "value",
    [
        "short",
        {"a": [1, 2.5, None, True], "b": {"c": "d"}},
        [1, (2, 3), [], {}],
        12345,
        None,
    ],
)
def test_preview_is_repr_when_short(value: Any) -> None:
    assert preview(value) == repr(value)


def test_preview_stops_at_its_limit_at_any_depth_or_size() -> None:
    deep = _deep(100_000, "x")
    assert preview(deep) == "[" * 100 + "..."
    assert preview(deep, limit=10) == "[" * 10 + "..."
    nested: dict[str, Any] = {}
    inner = nested
    for _ in range(50_000):
        inner["k"] = {}
        inner = inner["k"]
    assert preview(nested, limit=20) == "{'k': {'k': {'k': {'..."
    assert preview(list(range(10**6)), limit=12) == "[0, 1, 2, 3,..."
    assert preview("x" * 10**7, limit=5) == "'xxxx..."


def test_preview_survives_a_failing_repr() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert preview([Broken()]) == "[<Broken: repr failed with RuntimeError>]"


class _StrictHandler(logging.Handler):
    """Writes records as strict UTF-8 and lets a failure escape, as AWS's runtime client does."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.written.append(self.format(record).encode("utf-8"))


def test_lone_surrogates_reach_a_strict_stream_escaped() -> None:
    from stack_runtime.core.logs import StrictUtf8Records

    strict = logging.getLogger("stack_runtime_test.strict")
    strict.propagate = False
    strict.setLevel(logging.INFO)
    handler = _StrictHandler()
    strict.handlers[:] = [handler]
    try:
        error = ValueError("lone \ud800 in the text")
        with pytest.raises(UnicodeEncodeError):  # what the filter prevents
            strict.error(kv(logName="functionFailed", error=str(error)))
        strict.addFilter(StrictUtf8Records())
        strict.error(kv(logName="functionFailed", error=str(error)), exc_info=error)
        strict.info("plain %s", "é")
    finally:
        strict.filters.clear()
        strict.handlers.clear()
    failed, plain = handler.written
    assert failed.startswith(b"logName=functionFailed, error=lone \\ud800 in the text\n")
    assert failed.endswith(b"ValueError: lone \\ud800 in the text")
    assert plain == "plain é".encode()
