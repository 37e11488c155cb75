"""Configuration: one table of settings, read once at start-up, validated, then frozen.

Every setting is described once, in :data:`SETTINGS`: its name, command-line
flag, environment variable, kind of value (with its bounds), default, help, and
the commands that read it. Everything else is built from that table: each
command's flags and the environment section of ``--help`` (``stack-runtime``'s
:mod:`~stack_runtime.cli`), :func:`load_settings` for the server commands,
:func:`read_settings` for the Lambda face, and the configuration reference of
the documentation (:func:`settings_reference`).

Precedence, highest first: command-line flags, the real environment, a ``.env``
file in the working directory, defaults. An empty variable counts as unset. The
Lambda face reads the environment only. Nothing here writes to ``os.environ``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .exceptions import SettingsError

__all__ = [
    "COMMANDS",
    "ENV",
    "MAX_BODY_BYTES",
    "SETTINGS",
    "Setting",
    "Settings",
    "load_settings",
    "read_settings",
    "setting",
    "settings_for",
    "settings_reference",
    "system_tokens",
]

#: Largest request body accepted, as the reference's ``bodyParser.json({limit: '50mb'})``.
MAX_BODY_BYTES = 50 * 1024 * 1024

#: What reads settings: the ``stack-runtime`` commands, and ``lambda``, the Lambda face
#: (``stack_runtime.aws_lambda.handler``), which reads the environment only.
COMMANDS = ("serve", "dev", "invoke", "package-lambda", "lambda")


# Kinds of value: each reads a raw value (a flag's, or an environment variable's text),
# checks its bounds, and says in words what it accepts.


@dataclass(frozen=True)
class Text:
    """Any text."""

    def read(self, raw: Any, label: str) -> Any:
        return str(raw)

    def describe(self) -> str:
        return "text"


@dataclass(frozen=True)
class Secret(Text):
    """Text never shown as a default."""

    def describe(self) -> str:
        return "secret text"


@dataclass(frozen=True)
class Folder:
    """A path to a folder, relative to the working directory."""

    def read(self, raw: Any, label: str) -> Any:
        return Path(raw)

    def describe(self) -> str:
        return "path of a folder"


@dataclass(frozen=True)
class Integer:
    """A whole number in ``[minimum, maximum]``."""

    minimum: int
    maximum: int | None = None

    def read(self, raw: Any, label: str) -> Any:
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{label} must be a whole number, got {raw!r}") from None
        if value < self.minimum:
            raise SettingsError(f"{label} must be at least {self.minimum}, got {raw!r}")
        if self.maximum is not None and value > self.maximum:
            raise SettingsError(f"{label} must be at most {self.maximum}, got {raw!r}")
        return value

    def describe(self) -> str:
        if self.maximum is None:
            return f"whole number, at least {self.minimum}"
        return f"whole number from {self.minimum} to {self.maximum}"


@dataclass(frozen=True)
class Seconds:
    """A number of seconds, at least ``minimum`` (or above it, when ``above``)."""

    minimum: float
    above: bool = False

    def read(self, raw: Any, label: str) -> Any:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{label} must be a number, got {raw!r}") from None
        if math.isnan(value):
            raise SettingsError(f"{label} must be a number, got {raw!r}")
        if self.above and not value > self.minimum:
            raise SettingsError(f"{label} must be above {self.minimum:g}, got {raw!r}")
        if value < self.minimum:
            raise SettingsError(f"{label} must be at least {self.minimum:g}, got {raw!r}")
        return value

    def describe(self) -> str:
        return f"seconds, {'above' if self.above else 'at least'} {self.minimum:g}"


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Switch:
    """On or off: ``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off``."""

    def read(self, raw: Any, label: str) -> Any:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise SettingsError(f"{label} must be true or false, got {raw!r}")

    def describe(self) -> str:
        return "true or false (also 1/0, yes/no, on/off)"


@dataclass(frozen=True)
class Choice:
    """One of ``options``, in any case."""

    options: tuple[str, ...]

    def read(self, raw: Any, label: str) -> Any:
        value = str(raw).lower()
        if value not in self.options:
            raise SettingsError(f"{label} must be one of {', '.join(self.options)}, got {raw!r}")
        return value

    def describe(self) -> str:
        return f"one of {', '.join(self.options)}"


Kind = Text | Folder | Integer | Seconds | Switch | Choice


@dataclass(frozen=True)
class Setting:
    """One setting: where it comes from, what it accepts, what reads it."""

    name: str
    """The :class:`Settings` field (the two system tokens both fill ``system_tokens``)."""
    env: str
    """The environment variable (also read from ``.env``, but not on Lambda)."""
    kind: Kind
    default: Any
    help: str
    """What it sets, as a phrase: the flag's help and the environment section's line."""
    read_by: tuple[str, ...]
    """The commands (of :data:`COMMANDS`) that read it."""
    flag: str | None = None
    metavar: str | None = None
    flag_in: tuple[str, ...] = ()
    """The commands that have :attr:`flag`; the others read the environment only."""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """A command's own default, where it differs from :attr:`default`."""
    shown: Mapping[Any, str] = field(default_factory=dict)
    """How a default reads in words (``0`` workers: one per usable CPU), where not as is."""
    detail: str = ""
    """More, for ``--help`` and the reference: sentences on what it does, when to change it."""
    notes: Mapping[str, str] = field(default_factory=dict)
    """What holds for one command only, by command: sentences, as :attr:`detail`."""

    def default_for(self, command: str) -> Any:
        """The default when ``command`` runs."""
        return self.defaults.get(command, self.default)

    def default_text(self, command: str) -> str | None:
        """The default when ``command`` runs, in words; ``None`` when there is none."""
        value = self.default_for(command)
        if value is None and None not in self.shown:
            return None
        return self.show(value)

    def summary(self, command: str) -> str:
        """The help with the default when ``command`` runs: one line."""
        default = self.default_text(command)
        return self.help if default is None else f"{self.help} (default {default})"

    def explain(self, command: str) -> str:
        """The summary, then the detail and the note for ``command``: the flag's help."""
        more = " ".join(t for t in (self.detail, self.notes.get(command, "")) if t)
        return f"{self.summary(command)}. {more}" if more else self.summary(command)

    def show(self, value: Any) -> str:
        """``value`` as the help and the reference write it."""
        if value in self.shown:
            return self.shown[value]
        if isinstance(value, float) and value.is_integer():
            return f"{value:g}"
        return str(value)


_LOG_LEVELS = ("debug", "info", "warning", "error")
_SERVERS = ("serve", "dev")

#: Every setting, in the order the help and the reference list them.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "system_token",
        "INTEGRATOR_EXTENSION_SYSTEM_TOKEN",
        Secret(),
        None,
        "the stack's system token (required by serve)",
        read_by=("serve", "dev", "lambda"),
        detail="Every call must carry it.",
        notes={
            "dev": "dev makes one up and prints it when none is set.",
            "lambda": "On Lambda it guards HTTP events only; IAM guards direct invokes.",
        },
    ),
    Setting(
        "previous_system_token",
        "INTEGRATOR_EXTENSION_SYSTEM_TOKEN_PREVIOUS",
        Secret(),
        None,
        "also accepted, while a token is rotated",
        read_by=("serve", "dev", "lambda"),
    ),
    Setting(
        "extensions_dir",
        "STACK_EXTENSIONS_DIR",
        Folder(),
        Path("extensions"),
        "extensions folder",
        read_by=("serve", "dev", "invoke", "package-lambda", "lambda"),
        flag="--extensions",
        metavar="DIR",
        flag_in=("serve", "dev", "invoke", "package-lambda"),
        shown={Path("extensions"): "./extensions"},
        notes={
            "lambda": "On Lambda a relative folder is read from the root of the deployment "
            "package ($LAMBDA_TASK_ROOT)."
        },
    ),
    Setting(
        "host",
        "STACK_HOST",
        Text(),
        "0.0.0.0",
        "address to listen on",
        read_by=_SERVERS,
        flag="--host",
        metavar="HOST",
        flag_in=_SERVERS,
        defaults={"dev": "127.0.0.1"},
    ),
    Setting(
        "port",
        "PORT",
        Integer(0, 65535),
        8080,
        "port to listen on",
        read_by=_SERVERS,
        flag="--port",
        metavar="PORT",
        flag_in=_SERVERS,
        detail="0 takes a free port.",
    ),
    Setting(
        "workers",
        "STACK_WORKERS",
        Integer(0),
        0,
        "worker processes",
        read_by=("serve",),
        flag="--workers",
        metavar="N",
        flag_in=("serve",),
        shown={0: "one per usable CPU"},
        detail="One per usable CPU is one per CPU the process may use: its CPU affinity, and "
        "in a container its CPU quota (docker run --cpus, Kubernetes limits.cpu; a fraction "
        "is rounded up).",
    ),
    Setting(
        "threads",
        "STACK_THREADS",
        Integer(1),
        64,
        "threads per worker for def functions",
        read_by=_SERVERS,
        flag="--threads",
        metavar="N",
        flag_in=("serve",),
        detail="A def call that waits on I/O holds one while it waits.",
    ),
    Setting(
        "call_timeout",
        "STACK_CALL_TIMEOUT",
        Seconds(0, above=True),
        300.0,
        "seconds a call may run",
        read_by=("serve", "dev", "invoke", "lambda"),
        flag="--call-timeout",
        metavar="SECONDS",
        flag_in=("serve", "dev", "invoke"),
        defaults={"lambda": None},
        shown={None: "the function's own timeout"},
        detail="A call still running then is answered with function_timeout.",
        notes={
            "lambda": "On Lambda it bounds async def calls; the function's own timeout "
            "bounds the rest."
        },
    ),
    Setting(
        "blocked_loop",
        "STACK_BLOCKED_LOOP",
        Seconds(0.01),
        0.1,
        "seconds before a blocked event loop is logged",
        read_by=_SERVERS,
        flag="--blocked-loop",
        metavar="SECONDS",
        flag_in=_SERVERS,
        detail="eventLoopBlocked is logged (and counted in /metrics) when the event loop "
        "does not turn for this long, as when an async def function blocks.",
    ),
    Setting(
        "log_level",
        "STACK_LOG_LEVEL",
        Choice(_LOG_LEVELS),
        "info",
        "how much to log",
        read_by=("serve", "dev", "invoke", "lambda"),
        flag="--log-level",
        flag_in=("serve", "dev", "invoke"),
        defaults={"invoke": "warning"},
        notes={
            "invoke": "invoke logs to standard error; the answer alone goes to standard output."
        },
    ),
    Setting(
        "direct_path",
        "STACK_DIRECT_PATH",
        Switch(),
        True,
        "answer POST /function in the HTTP protocol itself",
        read_by=_SERVERS,
        flag="--direct-path",
        flag_in=_SERVERS,
        shown={True: "on", False: "off"},
        detail="The plainest requests are read in C, without ASGI. --no-direct-path "
        "(STACK_DIRECT_PATH=false) reads and answers every request with uvicorn's own "
        "httptools protocol, as a fallback.",
    ),
    Setting(
        "metrics_port",
        "STACK_METRICS_PORT",
        Integer(0, 65535),
        0,
        "port that serves GET /metrics without the token",
        read_by=("serve",),
        flag="--metrics-port",
        metavar="P",
        flag_in=("serve",),
        shown={0: "none"},
        detail="Without it, GET /metrics is served on the main port only, behind the token. "
        "It must differ from the port.",
    ),
    Setting(
        "drain_delay",
        "STACK_DRAIN_DELAY",
        Seconds(0),
        30.0,
        "seconds terminate=true keeps listening",
        read_by=("serve",),
        flag="--drain-delay",
        metavar="SECONDS",
        flag_in=("serve",),
        detail="After /openConnections?terminate=true the host keeps listening this long, "
        "then drains as on SIGTERM.",
    ),
    Setting(
        "drain_idle_wait",
        "STACK_DRAIN_IDLE_WAIT",
        Seconds(0),
        20.0,
        "seconds a drain leaves idle connections open",
        read_by=("serve",),
        flag="--drain-idle-wait",
        metavar="SECONDS",
        flag_in=("serve",),
        detail="While draining, idle keep-alive connections are left this long after the "
        "last call for the balancer to close, then closed. Keep it above the balancer's "
        "idle timeout for connections to the hosts.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}

#: Environment variable of each setting, by setting name.
ENV: Mapping[str, str] = {s.name: s.env for s in SETTINGS}


def setting(name: str) -> Setting:
    """The setting called ``name`` (``KeyError`` when there is none)."""
    return _BY_NAME[name]


def settings_for(command: str) -> Iterator[Setting]:
    """The settings ``command`` reads, in table order."""
    return (s for s in SETTINGS if command in s.read_by)


@dataclass(frozen=True)
class Settings:
    """Every setting a server command runs with. Build it with :func:`load_settings`;
    :data:`SETTINGS` says what each field means."""

    extensions_dir: Path = setting("extensions_dir").default
    host: str = setting("host").default
    port: int = setting("port").default
    workers: int = setting("workers").default
    threads: int = setting("threads").default
    direct_path: bool = setting("direct_path").default
    call_timeout: float = setting("call_timeout").default
    blocked_loop: float = setting("blocked_loop").default
    system_tokens: tuple[str, ...] = ()
    """Accepted system tokens: the current one, then the previous one during a rotation."""
    log_level: str = setting("log_level").default
    metrics_port: int = setting("metrics_port").default
    drain_delay: float = setting("drain_delay").default
    drain_idle_wait: float = setting("drain_idle_wait").default

    @property
    def keepalive(self) -> int:
        """Idle keep-alive seconds: longer than a load balancer's, as the reference's 301 s."""
        return 301

    @property
    def graceful_timeout(self) -> int:
        """Whole seconds a draining worker may take: the longest call plus a margin."""
        return math.ceil(self.call_timeout) + 15

    def with_tokens(self, *tokens: str) -> Settings:
        """A copy with ``tokens`` as the accepted system tokens."""
        return replace(self, system_tokens=tuple(t for t in tokens if t))


def read_settings(
    command: str,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | os.PathLike[str] | None = ".env",
) -> dict[str, Any]:
    """The value of every setting ``command`` reads, by name: flags > environment >
    ``.env`` > the command's defaults, each checked by its kind.

    ``flags`` maps setting names to values; ``None`` values count as not given.
    Raises :class:`SettingsError` naming the flag or variable whose value cannot be used.
    """
    env = os.environ if environ is None else environ
    dotenv: Mapping[str, str | None] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        from dotenv import dotenv_values  # not on Lambda, which reads no .env: see the zip

        dotenv = dotenv_values(dotenv_path)
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    if unknown := sorted(set(given) - set(_BY_NAME)):
        raise TypeError(f"no such setting: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for spec in settings_for(command):
        if spec.name in given:
            values[spec.name] = spec.kind.read(given[spec.name], spec.flag or spec.name)
        elif raw := env.get(spec.env):
            values[spec.name] = spec.kind.read(raw, spec.env)
        elif raw := dotenv.get(spec.env):
            values[spec.name] = spec.kind.read(raw, f"{spec.env} (in .env)")
        else:
            values[spec.name] = spec.default_for(command)
    return values


def system_tokens(values: Mapping[str, Any]) -> tuple[str, ...]:
    """The system tokens set among ``values`` (from :func:`read_settings`): the current
    one, then the previous one during a rotation."""
    tokens = (values.get("system_token"), values.get("previous_system_token"))
    return tuple(t for t in tokens if t)


def load_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | os.PathLike[str] | None = ".env",
    command: str = "serve",
) -> Settings:
    """Merge flags > environment > ``.env`` > defaults into one :class:`Settings` for
    ``command`` (see :func:`read_settings`); settings it does not read keep the defaults."""
    values = read_settings(command, flags, environ, dotenv_path)
    tokens = system_tokens(values)
    values.pop("system_token", None)
    values.pop("previous_system_token", None)
    settings = Settings(**values, system_tokens=tokens)
    if settings.metrics_port and settings.metrics_port == settings.port:
        raise SettingsError(f"the metrics port must differ from the port, both are {settings.port}")
    return settings


def _who(command: str) -> str:
    return "Lambda" if command == "lambda" else f"`{command}`"


def _default(spec: Setting, value: Any) -> str:
    """A default in the reference's words: as the setting shows it, or as code."""
    if value in spec.shown:
        return spec.shown[value]
    return "—" if value is None else f"`{spec.show(value)}`"


def _defaults(spec: Setting) -> str:
    others = [f"{_who(c)}: {spec.show(v)}" for c, v in spec.defaults.items()]
    return "; ".join([_default(spec, spec.default), *others])


def settings_reference(reader: str | None = None) -> str:
    """The settings as a Markdown table, for the documentation.

    Without ``reader``, the configuration page's table: every setting's environment
    variable, flag, value, default, readers and meaning. With ``reader`` (one of
    :data:`COMMANDS`, as ``"lambda"`` for the Lambda page), only the settings it reads,
    with its own default and its own notes, and no flag column when it has no flags."""
    if reader is not None and reader not in COMMANDS:
        raise ValueError(f"no such reader of settings: {reader!r}")
    specs = SETTINGS if reader is None else tuple(settings_for(reader))
    flags = reader is None or any(reader in spec.flag_in for spec in specs)
    head = ["Environment variable", *(["Flag"] if flags else []), "Value", "Default"]
    head += ["Read by", "Meaning"] if reader is None else ["Meaning"]
    rows = [f"| {' | '.join(head)} |", f"|{' --- |' * len(head)}"]
    for spec in specs:
        cells = [f"`{spec.env}`"]
        if flags:
            cells.append(_flag(spec, reader))
        cells.append(spec.kind.describe())
        if reader is None:
            cells += [_defaults(spec), ", ".join(map(_who, spec.read_by))]
        else:
            cells.append(_default(spec, spec.default_for(reader)))
        notes = spec.notes.values() if reader is None else [spec.notes.get(reader, "")]
        sentences = (f"{spec.help[0].upper()}{spec.help[1:]}.", spec.detail, *notes)
        cells.append(" ".join(t for t in sentences if t))
        rows.append(f"| {' | '.join(cells)} |")
    return "\n".join(rows) + "\n"


def _flag(spec: Setting, reader: str | None) -> str:
    if not spec.flag or (reader is not None and reader not in spec.flag_in):
        return "—"
    flag = f"`{spec.flag}{f' {spec.metavar}' if spec.metavar else ''}`"
    if isinstance(spec.kind, Switch):
        flag += f", `--no-{spec.flag[2:]}`"
    if reader is None and set(spec.flag_in) != set(spec.read_by) - {"lambda"}:
        flag += f" ({', '.join(map(_who, spec.flag_in))} only)"
    return flag
