"""A fresh machine: ``git clone``, ``make test`` and ``make run`` in a bare container
(``make fresh-test``), as a new user or a new CI machine would.

The container is a bare Debian bookworm with Python 3.11 (venv, headers), git and make
and nothing else (tests/container/podman.py). It clones this checkout's last commit; its
``make test`` must install everything else itself, then pass with no test skipped but for
:data:`ALLOWED_SKIPS`, in under 10 minutes; then ``make run`` answers the README's first
call as the README says.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from ..conftest import ROOT
from .podman import Podman
from .readme import first_call

# The skips a fresh machine may show, each with why its set-up is not make test's to do.
# Any other skip fails this test: on a machine make test set up, it names set-up that failed.
ALLOWED_SKIPS = {
    # kubectl is not among Debian bookworm's packages; CI's machines have it.
    "kubectl is not installed": "tests/deploy/test_kubernetes.py",
}
# Inside the container: /mnt/in holds the clone's source, /mnt/out what the test reads.
# The clone goes where every user may read it (not root's home): tests/deploy runs the host
# as the Deployment's non-root user on the checkout.
SCRIPT = r"""
set -u
git clone --quiet -c advice.detachedHead=false /mnt/in/stack-runtime.bundle /srv/stack-runtime
cd /srv/stack-runtime
git log --oneline -1 > /mnt/out/commit
SECONDS=0
make test > /mnt/out/make-test.log 2>&1
echo $? > /mnt/out/make-test.rc
echo $SECONDS > /mnt/out/make-test.seconds
make run PORT=8080 > /mnt/out/make-run.log 2>&1 &
python3 /mnt/in/call.py > /mnt/out/make-run.json 2> /mnt/out/make-run.error
"""
# Calls the README's example once the dev server answers (up to 120 s: make run builds nothing).
CALL = r"""
import json, time, urllib.request
envelope = json.load(open("/mnt/in/call.json"))
request = urllib.request.Request(
    "http://127.0.0.1:8080/function", data=json.dumps(envelope).encode(),
    headers={"Authorization": "Bearer local-dev-token", "Content-Type": "application/json"},
)
deadline = time.monotonic() + 120
while True:
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            print(answer.read().decode())
            break
    except OSError as error:
        if time.monotonic() > deadline:
            raise SystemExit(f"make run did not answer: {error}")
        time.sleep(0.5)
"""


def test_a_fresh_clone_passes_make_test_and_make_run_serves(
    podman: Podman, debian: str, tmp_path: Path
) -> None:
    inside, out = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    out.mkdir()
    subprocess.run(
        ["git", "bundle", "create", str(inside / "stack-runtime.bundle"), "HEAD"],
        cwd=ROOT, capture_output=True, check=True,
    )  # fmt: skip
    call, answer = first_call()
    (inside / "call.json").write_text(json.dumps(call))
    (inside / "call.py").write_text(CALL)
    # Privileged: root on a CI machine may make namespaces and mounts, as some tests do.
    done = podman(
        "run", "--rm", "--privileged", "-v", f"{inside}:/mnt/in:ro", "-v", f"{out}:/mnt/out", debian,
        "bash", "-c", SCRIPT, check=False, timeout=1800,
    )  # fmt: skip
    log = (out / "make-test.log").read_text() if (out / "make-test.log").exists() else ""
    assert (out / "make-test.rc").exists(), f"{done.stdout}\n{done.stderr}\n{log[-6000:]}"
    seconds = int((out / "make-test.seconds").read_text())
    print(f"{(out / 'commit').read_text().strip()}: make test took {seconds} s")
    assert (out / "make-test.rc").read_text().strip() == "0", log[-8000:]
    summary = log.strip().splitlines()[-1]
    print(summary)
    assert re.search(r"\d+ passed", summary) and "failed" not in summary, log[-8000:]
    assert "error" not in summary, log[-8000:]
    skipped = [line for line in log.splitlines() if line.startswith("SKIPPED")]
    print("\n".join(skipped))
    unexpected = [line for line in skipped if not any(why in line for why in ALLOWED_SKIPS)]
    assert not unexpected, "\n".join(unexpected)
    assert seconds < 600, f"make test took {seconds} s on a fresh machine"

    served = (out / "make-run.json").read_text()
    assert served, (out / "make-run.error").read_text() + (out / "make-run.log").read_text()
    assert json.loads(served) == answer, served
