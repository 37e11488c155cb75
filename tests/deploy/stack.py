"""Real processes for the deployment tests: stack hosts, nginx with deploy/nginx.conf, load.

Everything listens on 127.0.0.1 only. nginx runs the project's own
``deploy/nginx.conf`` with only these lines rewritten for the test: the
``user`` (when not root), the pid and log paths, the upstream ``server`` lines
(to the test's hosts), the ``listen`` ports and the certificate paths; temp
paths are added so nginx writes nothing outside the test's folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from ..conftest import FIXTURES, ROOT, stop_process
from ..e2e.server import free_port

TOKEN = "deploy-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXTENSIONS = FIXTURES / "deploy"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"

#: The count lines of this run, printed again at the end of the test session.
COUNTS: list[str] = []


def nginx_binary() -> str:
    """The nginx program; its absence fails the test (CI installs it)."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
    )
    if found is None:
        raise AssertionError("nginx is not installed: .ci/run installs it (apt-get install nginx)")
    return found


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# -- stack hosts -----------------------------------------------------------------------


class Host:
    """One ``stack-runtime serve`` (gunicorn master and workers, own process group)."""

    def __init__(
        self,
        name: str,
        folder: Path,
        *,
        workers: int = 2,
        extra: tuple[str, ...] = (),
        extensions: Path = EXTENSIONS,
    ):
        self.name = name
        self.folder = folder
        self.extensions = extensions
        self.port = free_port()
        self.workers = workers
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}.log"

    def start(self, env: dict[str, str] | None = None) -> None:
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith(("STACK_", "INTEGRATOR_"))
        }
        environment.pop("PORT", None)
        environment.update(
            INTEGRATOR_EXTENSION_SYSTEM_TOKEN=TOKEN,
            STACK_TEST_HOST=self.name,
            STACK_TEST_RECORDS=str(self.folder / "records"),
            STACK_TEST_GATE=str(self.folder / "gate"),
            **(env or {}),
        )
        args = [
            sys.executable,
            "-m",
            "stack_runtime",
            "serve",
            "--extensions",
            str(self.extensions),
        ]
        args += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        args += ["--call-timeout", "2", "--log-level", "info", *self.extra]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=environment, start_new_session=True
            )
        self.starts += 1
        wait_until(self.ready, 30, f"host {self.name} to answer /readyz")

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"host {self.name} exited:\n{self.log.read_text()[-3000:]}")
        try:
            return requests.get(self.url + "/readyz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def terminate(self) -> None:
        """SIGTERM to gunicorn's master: a graceful drain."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to every process of the host, as when its machine dies."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def wait(self, timeout: float = 60) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def worker_pids(self) -> set[int]:
        """The pids of gunicorn's live workers for this host."""
        assert self.process is not None
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return {int(p) for p in path.read_text().split()}
        except OSError:
            return set()

    def refuses_connections(self) -> bool:
        try:
            requests.get(self.url + "/healthCheck", timeout=1)
        except requests.ConnectionError:
            return True
        return False


# -- TLS -------------------------------------------------------------------------------


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise AssertionError("openssl is not installed: .ci/run installs it")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


# -- nginx -----------------------------------------------------------------------------


def render_config(
    hosts: list[Host], http_port: int, https_port: int, cert: Path, key: Path, prefix: Path
) -> str:
    """deploy/nginx.conf with the test's ports, hosts, certificate and paths."""
    text = NGINX_CONF.read_text()

    def sub(pattern: str, replacement: str, count: int = 0) -> None:
        nonlocal text
        text, n = re.subn(pattern, lambda _m: replacement, text, count=count, flags=re.M)
        assert n, f"deploy/nginx.conf no longer has a line matching {pattern!r}"

    if os.geteuid() != 0:
        sub(r"^user .*$", "")
    sub(r"^pid .*$", f"pid {prefix}/nginx.pid;")
    sub(r"^error_log .*$", f"error_log {prefix}/error.log warn;")
    sub(r"access_log /var/log/nginx/access.log", f"access_log {prefix}/access.log")
    first = re.search(r"^\s*server stack-host-\d\.internal:8080 (.*;)", text, flags=re.M)
    assert first, "deploy/nginx.conf no longer lists stack-host-N.internal servers"
    servers = "\n".join(f"        server 127.0.0.1:{h.port} {first.group(1)}" for h in hosts)
    sub(r"(?:^\s*server stack-host-\d\.internal:8080 .*\n)+", servers + "\n")
    sub(r"^\s*listen \[::\]:\d+.*$", "")
    sub(r"listen 80;", f"listen 127.0.0.1:{http_port};")
    sub(r"listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    sub(r"ssl_certificate\s+/\S+;", f"ssl_certificate {cert};")
    sub(r"ssl_certificate_key\s+/\S+;", f"ssl_certificate_key {key};")
    temp = "".join(
        f"    {kind}_temp_path {prefix}/temp/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    sub(r"^http \{\n", "http {\n" + temp, count=1)
    return text


class Nginx:
    """nginx in the foreground with its own prefix, pid and logs in a temp folder."""

    def __init__(self, hosts: list[Host]) -> None:
        # nginx's workers run as an unprivileged user when the tests run as root:
        # they need to reach the temp folder, so it is not under pytest's private tmp.
        self.prefix = Path(tempfile.mkdtemp(prefix="stack-nginx-"))
        self.prefix.chmod(0o755)
        (self.prefix / "temp").mkdir(mode=0o777)
        (self.prefix / "temp").chmod(0o777)
        self.cert, self.key = make_certificate(self.prefix)
        self.http_port, self.https_port = free_port(), free_port()
        self.conf = self.prefix / "nginx.conf"
        self.conf.write_text(
            render_config(hosts, self.http_port, self.https_port, self.cert, self.key, self.prefix)
        )
        self.process: subprocess.Popen[bytes] | None = None
        self._logs: tuple[list[str], str] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        binary = nginx_binary()
        test = subprocess.run(
            [binary, "-t", "-p", str(self.prefix), "-c", str(self.conf), "-e", "stderr"],
            capture_output=True,
            text=True,
        )
        assert test.returncode == 0, test.stderr
        self.process = subprocess.Popen(
            [
                binary,
                "-p",
                str(self.prefix),
                "-c",
                str(self.conf),
                "-e",
                "stderr",
                "-g",
                "daemon off;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.prefix / "stderr.log").open("wb"),
        )

        def up() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, (self.prefix / "stderr.log").read_text()
            try:
                return requests.get(self.http_url, timeout=1, allow_redirects=False).ok or True
            except requests.ConnectionError:
                return False

        wait_until(up, 15, "nginx to listen")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGQUIT, 10)
        self._logs = (self.access_log(), self.error_log())  # kept for explain()
        shutil.rmtree(self.prefix, ignore_errors=True)

    def access_log(self) -> list[str]:
        if self._logs is not None:
            return self._logs[0]
        path = self.prefix / "access.log"
        return path.read_text().splitlines() if path.exists() else []

    def error_log(self) -> str:
        if self._logs is not None:
            return self._logs[1]
        path = self.prefix / "stderr.log"
        return path.read_text() if path.exists() else ""

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # the test certificate, and no proxy from the environment
        session.verify = str(self.cert)
        session.headers.update(AUTH)
        return session


# -- load ------------------------------------------------------------------------------


@dataclass
class Tally:
    """What a stream of calls saw."""

    sent: int = 0
    answered: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    served_by: Counter[str] = field(default_factory=Counter)
    versions: list[tuple[float, str, Any]] = field(default_factory=list)
    """(when sent, by which host, the ``version`` it answered) for every right answer."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def failed(self) -> int:
        return len(self.failures) + len(self.wrong)


class Stream:
    """``clients`` threads sending calls through nginx until stopped, each with a unique id.

    Each call runs ``sleep`` seconds in the host; with several values, the calls of a
    client take them in turn.
    """

    def __init__(
        self,
        nginx: Nginx,
        clients: int = 4,
        *,
        sleep: float | tuple[float, ...] = 0.0,
        pause: float = 0.005,
    ) -> None:
        self.nginx = nginx
        self.clients = clients
        self.sleeps = sleep if isinstance(sleep, tuple) else (sleep,)
        self.pause = pause
        self.tally = Tally()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Stream:
        for n in range(self.clients):
            thread = threading.Thread(target=self._run, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for_calls(self, *hosts: str, more: int = 20) -> None:
        """Until each of ``hosts`` has answered ``more`` calls more than it had so far."""
        start = {host: served(self.tally, host) for host in hosts}
        wait_until(
            lambda: all(served(self.tally, host) > start[host] + more for host in hosts),
            60,
            f"calls on {', '.join(hosts)}",
        )

    def stop(self) -> Tally:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        return self.tally

    def _run(self, client: int) -> None:
        tally = self.tally
        with self.nginx.session() as session:
            n = 0
            while not self._stop.is_set():
                n += 1
                call_id = f"c{client}-{n}"
                function = "record" if n % 2 else "record_async"
                echo = {"n": n, "text": "é" * (n % 7)}
                envelope = {
                    "diy": True,
                    "function": function,
                    "options": {
                        "id": call_id,
                        "echo": echo,
                        "sleep": self.sleeps[n % len(self.sleeps)],
                    },
                }
                with tally.lock:
                    tally.sent += 1
                sent = time.monotonic()
                try:
                    answer = session.post(
                        self.nginx.url + "/function",
                        json=envelope,
                        headers={"traceid": call_id},
                        timeout=60,
                    )
                except requests.RequestException as exc:
                    with tally.lock:
                        tally.failures.append((call_id, f"{type(exc).__name__}: {exc}"))
                    continue
                with tally.lock:
                    if answer.status_code != 200:
                        tally.failures.append((call_id, f"{answer.status_code} {answer.text}"))
                    else:
                        body = answer.json()
                        if body.get("id") != call_id or body.get("echo") != echo:
                            tally.wrong.append(call_id)
                        else:
                            tally.answered += 1
                            tally.served_by[body["host"]] += 1
                            tally.versions.append((sent, body["host"], body.get("version")))
                if self.pause:
                    time.sleep(self.pause)


def records(folder: Path) -> list[dict[str, Any]]:
    """Every recorded call on every host."""
    found: list[dict[str, Any]] = []
    for path in sorted((folder / "records").glob("*.jsonl")):
        found += [json.loads(line) for line in path.read_text().splitlines() if line]
    return found


def duplicates(folder: Path) -> list[str]:
    counts = Counter(r["id"] for r in records(folder) if r["what"] == "call")
    return sorted(i for i, c in counts.items() if c > 1)


def report(name: str, tally: Tally, folder: Path, **more: Any) -> list[str]:
    """Print one line of counts, so a run can be read and compared; return the ids of the
    calls that ran more than once (from the records in ``folder``)."""
    duplicated = duplicates(folder)
    extra = "".join(f", {k}={v}" for k, v in more.items())
    line = (
        f"[{name}] sent={tally.sent} answered={tally.answered} failed={tally.failed} "
        f"duplicated={len(duplicated)} served_by={dict(tally.served_by)}{extra}"
    )
    print(line)
    COUNTS.append(line)
    return duplicated


def explain(tally: Tally, nginx: Nginx) -> str:
    """What nginx logged for each failed call (its access line, by traceid) and its error
    log: the message of a failed assertion on ``tally.failures``."""
    ids = {call_id for call_id, _ in tally.failures}
    lines = [x for x in nginx.access_log() if any(f'traceid="{i}"' in x for i in ids)]
    errors = nginx.error_log().splitlines()[-40:]
    head = [f"failures: {tally.failures[:5]}", "nginx access log:"]
    return "\n".join([*head, *lines[:20], "nginx error log:", *errors])


def served(tally: Tally, host: str) -> int:
    with tally.lock:
        return tally.served_by[host]


@dataclass
class Stack:
    """nginx in front of some hosts, sharing one folder of records."""

    folder: Path
    hosts: list[Host]
    nginx: Nginx

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)


@contextmanager
def running_stack(folder: Path, names: list[str], **host_args: Any) -> Iterator[Stack]:
    """Hosts started, nginx started in front of them; everything stopped afterwards."""
    (folder / "records").mkdir(exist_ok=True)
    hosts = [Host(name, folder, **host_args) for name in names]
    stack = Stack(folder, hosts, Nginx(hosts))
    try:
        for host in hosts:
            host.start()
        stack.nginx.start()
        yield stack
    finally:
        stack.nginx.stop()
        for host in hosts:
            host.stop()
