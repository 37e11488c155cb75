"""The README's first example: the call that ``make run`` answers, and its answer."""

from __future__ import annotations

import json
import re
from typing import Any

from ..conftest import ROOT

__all__ = ["first_call"]


def first_call() -> tuple[dict[str, Any], dict[str, Any]]:
    """The envelope of the README's first ``curl`` call and the JSON it says comes back."""
    text = (ROOT / "README.md").read_text()
    curl = re.search(r"```sh\n(curl -s http://127\.0\.0\.1:8080/function.*?)```", text, re.S)
    assert curl, "README.md: no curl example"
    body = re.search(r"-d '(.*?)'", curl.group(1), re.S)
    answer = re.search(r"```json\n(.*?)```", text[curl.end() :], re.S)
    assert body and answer, "README.md: the curl example has no body or no answer"
    return json.loads(body.group(1)), json.loads(answer.group(1))
