"""The servers a benchmark drives, each a real process on a free loopback port: attnserve
itself (any settings) and the naive baseline. Start-up is timed to the first 200 from the
readiness route; resident memory is read from /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    startup_s: float
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    def memory_mib(self) -> dict[str, float]:
        """Resident memory now and at its peak (VmRSS, VmHWM), MiB, summed over every
        process the server started (LitServe's workers are processes of their own)."""
        fields = {"VmRSS": 0, "VmHWM": 0}
        for pid in session_pids(self.process.pid):
            try:
                lines = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                continue
            for line in lines:
                key, _, value = line.partition(":")
                if key in fields:
                    fields[key] += int(value.split()[0])
        return {
            "rss_mib": round(fields["VmRSS"] / 1024, 1),
            "peak_rss_mib": round(fields["VmHWM"] / 1024, 1),
        }

    def cpu_s(self) -> float:
        """CPU seconds the server has used so far: every thread of every process it
        started (LitServe runs its API server and its workers as processes of their own)."""
        return session_cpu_s(self.process.pid)

    def pause(self) -> None:
        """SIGSTOP the server's processes: while another system is measured, an idle one
        (LitServe's workers poll their queues) takes no CPU from it."""
        _signal_group(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        _signal_group(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM to the server's whole process group (its own session), SIGKILL after 30 s."""
        if self.process.poll() is None:
            self.resume()
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        _signal_group(self.process.pid, signal.SIGKILL)  # children it left behind


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _session_stats(leader: int) -> list[tuple[int, list[str]]]:
    """(pid, /proc/PID/stat fields after the name) of every live process in the session."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[3]) == leader:  # the session id
            out.append((int(stat.parent.name), fields))
    return out


def session_pids(leader: int) -> list[int]:
    return [pid for pid, fields in _session_stats(leader) if fields[0] != "Z"]


def session_cpu_s(leader: int) -> float:
    """CPU seconds of every live process in ``leader``'s session, from the kernel's
    counters (/proc/PID/stat: utime + stime, and cutime + cstime of children it reaped)."""
    ticks = sum(sum(int(f) for f in fields[11:15]) for _, fields in _session_stats(leader))
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_ready(
    process: subprocess.Popen[bytes],
    port: int,
    log: Path,
    timeout_s: float = 120,
    name: str = "the server",
) -> None:
    """Poll ``/v2/health/ready`` until 200; fail with the log's tail if the process exits
    or the deadline passes (the process is killed then)."""
    ready = f"http://127.0.0.1:{port}/v2/health/ready"
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=1) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited during start-up:\n{log.read_text()[-3000:]}")
            try:
                if client.get(ready).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                _signal_group(process.pid, signal.SIGKILL)
                raise TimeoutError(
                    f"{name} not ready in {timeout_s:g} s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.01)


def launch(
    name: str,
    cmd: list[str],
    port: int,
    env: dict[str, str],
    logs: Path,
    timeout_s: float = 120,
    cwd: Path = ROOT,
) -> Server:
    """Start ``cmd`` (a server on ``port``) with its output in ``logs/<name>.log``, and wait
    until it is ready. The one launcher of the benchmarks and the tests."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    started = time.perf_counter()
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
        )
    wait_ready(process, port, log, timeout_s=timeout_s, name=name)
    return Server(name, process, port, time.perf_counter() - started, log)


def serve_command(port: int) -> list[str]:
    return [sys.executable, "-m", "attnserve.cli", "serve", "--port", str(port)]


def start_service(
    name: str, repository: Path, logs: Path, tree: Path | None = None, **settings: str
) -> Server:
    """``attnserve serve`` with ``ATTNSERVE_<KEY>=value`` for each setting given; ``tree``:
    another checkout of attnserve to run instead of this one (an A/B of two builds)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTNSERVE_")}
    env.update({f"ATTNSERVE_{k.upper()}": v for k, v in settings.items()})
    env.update(ATTNSERVE_MODEL_REPOSITORY=str(repository.resolve()), ATTNSERVE_LOG_LEVEL="warning")
    return launch(name, serve_command(port), port, env, logs, cwd=tree or ROOT)


def start_plain(repository: Path, logs: Path) -> Server:
    """The plain ONNX Runtime endpoint (benchmarks/baselines/plain.py)."""
    port = free_port()
    cmd = [sys.executable, "-m", "benchmarks.baselines.plain", "--port", str(port)]
    cmd += ["--repository", str(repository)]
    return launch("plain", cmd, port, dict(os.environ), logs)


def start_litserve(repository: Path, logs: Path, **options: str) -> Server:
    """LitServe with its batching (benchmarks/baselines/litserve_api.py); ``options`` are
    its flags (batch, timeout_ms, workers, servers)."""
    port = free_port()
    cmd = [sys.executable, "-m", "benchmarks.baselines.litserve_api", "--port", str(port)]
    cmd += ["--repository", str(repository)]
    for key, value in options.items():
        cmd += [f"--{key.replace('_', '-')}", value]
    return launch("litserve", cmd, port, dict(os.environ), logs)


def start_naive(repository: Path, logs: Path, threads: int) -> Server:
    """The naive baseline (benchmarks/baselines/naive.py): PyTorch eager, one request at a time."""
    port = free_port()
    cmd = [sys.executable, "-m", "benchmarks.baselines.naive", "--port", str(port)]
    cmd += ["--repository", str(repository), "--threads", str(threads)]
    return launch("naive", cmd, port, dict(os.environ), logs)


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics: (name, sorted labels) → value."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def delta(
    before: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    after: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    name: str,
    **labels: str,
) -> float:
    """The change of a metric (summed over the labels not given) between two scrapes."""
    return total(after, name, **labels) - total(before, name, **labels)


def total(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    """A metric in one scrape, summed over the labels not given (0 if not exported yet)."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def histogram(
    before: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    after: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    name: str,
    model: str,
) -> dict[str, float]:
    """Per-bucket counts (not cumulative) of a histogram between two scrapes: le → count."""
    edges = sorted(
        {dict(ls)["le"] for (n, ls) in after if n == f"{name}_bucket"},
        key=lambda le: float(le),
    )
    cumulative = [delta(before, after, f"{name}_bucket", model=model, le=le) for le in edges]
    return {
        le: c - (cumulative[i - 1] if i else 0.0)
        for i, (le, c) in enumerate(zip(edges, cumulative, strict=True))
    }
