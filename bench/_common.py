"""Shared pieces of the benchmarks: emulator subprocesses, resource snapshots, a wire-level transport.

Why subprocesses: ``ru_maxrss`` is a high-water mark per process, so each measured run happens in a
fresh Python process (:func:`run_child`), and the emulator serving it runs in yet another process
(:class:`EmulatorProcess`) so its CPU and memory are not counted as ours. The emulator's own CPU
during a run is read from ``/proc/<pid>/stat`` around the run.

Nothing here asserts anything about time: benchmarks print figures.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CHILD_FLAG = "--child"
REPO = Path(__file__).resolve().parents[1]


def checkout_env() -> dict[str, str]:
    """The environment for every process a benchmark starts: the checkout this ``bench/`` belongs
    to first on ``PYTHONPATH``, so the emulator and the measured runs are that checkout's code even
    when another one is installed (editable) in the venv."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    return env


# --- our own process ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Wall clock, CPU and peak RSS of this process at one moment."""

    wall: float
    cpu: float
    """User + system seconds of this process (``RUSAGE_SELF``; all threads)."""
    peak_rss_mb: float

    @classmethod
    def take(cls) -> Snapshot:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return cls(
            wall=time.perf_counter(),
            cpu=usage.ru_utime + usage.ru_stime,
            peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        )


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def process_cpu_seconds(pid: int) -> float:
    """User + system seconds of another live process, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the ")" closing comm: state is fields[0], utime is fields[11], stime fields[12]
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


# --- a scratch PostgreSQL database per run ---------------------------------------------------------

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
"""Where ``--postgres`` runs go: a new database per run, created from (and dropped through) ``test``."""


def postgres_reachable(server: str = POSTGRES_SERVER) -> str | None:
    """``None`` when a scratch database can be created there, else why not (printed, then skipped)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'winback[postgres]')"
    try:
        with psycopg.connect(_libpq(server, "test"), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "skip PostgreSQL"
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return None


def _libpq(server: str, database: str) -> str:
    return server.replace("postgresql+psycopg://", "postgresql://") + f"/{database}"


class ScratchDatabase:
    """``CREATE DATABASE winback_bench_<random>`` on enter, ``DROP DATABASE`` on exit; ``url`` for SQLAlchemy."""

    def __init__(self, server: str = POSTGRES_SERVER, name: str | None = None) -> None:
        self.server = server
        self.name = name or f"winback_bench_{os.getpid()}_{os.urandom(3).hex()}"
        self.url = f"{server}/{self.name}"

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(_libpq(self.server, "test"), autocommit=True) as conn:
            conn.execute(statement)

    def __enter__(self) -> Self:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# --- the emulator in its own process -----------------------------------------------------------


class EmulatorProcess:
    """``winback-emulator <platform> ...`` as a child process; a context manager.

    ``info`` is the JSON line the emulator prints (``url``, ``settings``, counts). ``cpu_seconds``
    reads the child's user + system time from ``/proc``; after exit ``final_cpu_seconds`` holds what
    ``wait4`` reported (the whole life of the emulator, world generation included).
    """

    def __init__(self, platform_name: str, *, customers: int, orders: int, extra: Sequence[str] = ()) -> None:
        self.argv = [
            sys.executable, "-m", "winback.emulator", platform_name,
            "--customers", str(customers), "--orders", str(orders), *extra,
        ]
        self.info: dict[str, Any] = {}
        self.final_cpu_seconds: float | None = None
        self.final_peak_rss_mb: float | None = None
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self._proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self._stderr, cwd=REPO, env=checkout_env())
        assert self._proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self._proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 900
        line = b""
        while not line.endswith(b"\n"):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._stderr.seek(0)
                detail = self._stderr.read().decode(errors="replace")[-2000:]
                self.__exit__()
                raise RuntimeError(f"the emulator did not start ({' '.join(self.argv)}):\n{detail}")
            if selector.select(timeout=1.0):
                chunk = os.read(self._proc.stdout.fileno(), 65536)
                line += chunk
        selector.close()
        self.info = json.loads(line.decode().splitlines()[0])
        return self

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def __exit__(self, *exc_info: object) -> None:
        proc = self._proc
        if proc is None or self.final_cpu_seconds is not None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            self.final_cpu_seconds = usage.ru_utime + usage.ru_stime
            self.final_peak_rss_mb = usage.ru_maxrss / 1024
        except ChildProcessError:  # already reaped by poll()
            pass
        if proc.stdout is not None:
            proc.stdout.close()
        self._stderr.close()


# --- what went over the wire -------------------------------------------------------------------

_ACTUAL = re.compile(rb'"actualQueryCost"\s*:\s*(\d+(?:\.\d+)?)')
_REQUESTED = re.compile(rb'"requestedQueryCost"\s*:\s*(\d+(?:\.\d+)?)')
_RESTORE = re.compile(rb'"restoreRate"\s*:\s*(\d+(?:\.\d+)?)')
_MAXIMUM = re.compile(rb'"maximumAvailable"\s*:\s*(\d+(?:\.\d+)?)')
_THROTTLED = re.compile(rb'"code"\s*:\s*"THROTTLED"')


_NOT_REPLAYED = {"host", "content-length", "user-agent"}


@dataclass(slots=True)
class WireStats:
    requests: int = 0
    """Every HTTP request the connector sent, bulk downloads included."""
    status: dict[int, int] = field(default_factory=dict)
    throttled: int = 0
    """GraphQL THROTTLED answers plus HTTP 429s."""
    actual_cost: float = 0.0
    requested_cost: float = 0.0
    restore_rate: float | None = None
    bucket_size: float | None = None


class WireTransport(httpx.AsyncBaseTransport):
    """Wraps ``httpx.AsyncHTTPTransport`` (with HttpClient's limits) and counts what goes by.

    With ``read_costs`` every GraphQL answer is buffered and scanned for ``extensions.cost`` and
    THROTTLED; bulk downloads (not GraphQL) stream through untouched. Without it only requests and
    statuses are counted, so the throughput figures carry no parsing of ours.
    """

    def __init__(self, *, read_costs: bool = False, record: bool = False) -> None:
        self.inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=10, max_keepalive_connections=5))
        self.read_costs = read_costs
        self.stats = WireStats()
        self.recorded: list[dict[str, Any]] | None = [] if record else None
        """With ``record``: every request as sent (method, URL, headers, body), for a replaying client."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.stats.requests += 1
        if self.recorded is not None:
            self.recorded.append({
                "method": request.method,
                "url": str(request.url),
                "headers": {k: v for k, v in request.headers.items() if k.lower() not in _NOT_REPLAYED},
                "body": request.content.decode("latin-1"),
            })
        response = await self.inner.handle_async_request(request)
        self.stats.status[response.status_code] = self.stats.status.get(response.status_code, 0) + 1
        if response.status_code == 429:
            self.stats.throttled += 1
        if not (self.read_costs and request.url.path.endswith("/graphql.json")):
            return response
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        if "content-encoding" not in response.headers:
            self._scan(raw)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(raw),
            extensions=response.extensions,
            request=request,
        )

    def _scan(self, body: bytes) -> None:
        tail = body[body.rfind(b'"extensions"'):] if b'"extensions"' in body else b""
        if _THROTTLED.search(body[:2000]):
            self.stats.throttled += 1
        for pattern, name in ((_ACTUAL, "actual_cost"), (_REQUESTED, "requested_cost")):
            found = pattern.search(tail)
            if found:
                setattr(self.stats, name, getattr(self.stats, name) + float(found.group(1)))
        if (found := _RESTORE.search(tail)) is not None:
            self.stats.restore_rate = float(found.group(1))
        if (found := _MAXIMUM.search(tail)) is not None:
            self.stats.bucket_size = float(found.group(1))

    async def aclose(self) -> None:
        await self.inner.aclose()


def wire_dict(stats: WireStats) -> dict[str, Any]:
    data = asdict(stats)
    data["status"] = {str(k): v for k, v in sorted(stats.status.items())}
    return data


# --- one measured run per process ----------------------------------------------------------------


def run_child(script: Path, spec: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
    """Run ``script --child '<spec json>'`` in a fresh interpreter; return the JSON it prints last.

    The child's stderr passes through (progress lines); a failed child yields ``{"error": ...}``.
    """
    argv = [sys.executable, str(script), CHILD_FLAG, json.dumps(spec)]
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=timeout, check=False, cwd=REPO,
                              env=checkout_env())
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s", **spec}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"exit status {done.returncode}", **spec}
    return json.loads(lines[-1])


def child_spec(argv: Sequence[str]) -> dict[str, Any] | None:
    """The spec when this process was started by :func:`run_child`, else ``None``."""
    if len(argv) == 3 and argv[1] == CHILD_FLAG:
        return json.loads(argv[2])
    return None


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result, default=str), flush=True)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- printing ----------------------------------------------------------------------------------


def machine_notes() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} logical CPUs ({model}); load average at start {load}; "
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}"
    )


def rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f}" if seconds > 0 else "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
