"""``attnserve bench``: how close the service gets to the engine's ceiling, and how far
ahead of what users would otherwise run — measured in one run, on the same texts.

Every system is a real process on loopback (or the service at ``--url``): attnserve with
its defaults, attnserve with batching off (``ATTNSERVE_MAX_BATCH_SIZE=1``), the naive
PyTorch endpoint (benchmarks/baselines/naive.py), and two peers on the same ONNX graph and
tokenizer: the plain FastAPI + ONNX Runtime endpoint (baselines/plain.py) and LitServe
with its own batching (baselines/litserve_api.py); for translation, CTranslate2 offline on
the served weights (baselines/ctranslate2_model.py, greedy identity checked first). Ratios
against the ceiling, the peers, CTranslate2 and the reference decoder are measured in interleaved rounds (baseline, service, baseline,
…) and their median is reported: this machine is shared and its speed drifts by tens of
percent between minutes, so only figures taken side by side are compared. A system not
under load is paused (SIGSTOP), so that its idle CPU is not in another's figures.

The serving overhead is the server's CPU per request (the kernel's counters for the whole
process) less the engine's CPU for the same texts alone (ONNX Runtime on the served graph,
in the bench process, at the batch size the service formed, with the service's threads).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks import ceiling, loadgen, processes, workloads
from benchmarks.processes import Server
from runtime import tuning

PEER_CLIENTS = (16, 64)  # the loads the peers are compared at


@dataclass
class Options:
    repository: Path = Path("model_repository")
    data: Path = Path("data")
    out: Path = Path("bench-results")
    url: str | None = None  # an already running service: no start-up, no batching-off run
    seconds: float = 4.0  # per sweep point
    rounds: int = 3  # interleaved rounds for each ratio
    concurrency: tuple[int, ...] = (1, 4, 16, 64)
    rates: tuple[float, ...] = (50, 100, 200, 400, 800)
    bulk: int = 32  # texts per request of the bulk workload
    sentences: int = 64  # translation sentences per reference-decoder round
    ct2_sentences: int = 256  # translation sentences per CTranslate2 round (offline)
    log: Callable[[str], None] = print


@dataclass
class Target:
    name: str
    measured: float
    goal: float
    higher_is_better: bool = True
    detail: str = ""

    @property
    def met(self) -> bool:
        return self.measured >= self.goal if self.higher_is_better else self.measured <= self.goal


@dataclass
class Report:
    machine: dict[str, Any]
    options: dict[str, Any]
    startup: dict[str, dict[str, Any]] = field(default_factory=dict)
    sweeps: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rounds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    batching: dict[str, Any] = field(default_factory=dict)
    overhead: dict[str, dict[str, float]] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "targets"}
        d["targets"] = [{**t.__dict__, "met": t.met} for t in self.targets]
        return d


def _machine() -> dict[str, Any]:
    import onnxruntime

    model = tuning.host()["cpu"]
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "providers": onnxruntime.get_available_providers(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


class Bench:
    def __init__(self, opts: Options) -> None:
        self.o = opts
        self.report = Report(
            _machine(), {k: str(v) for k, v in opts.__dict__.items() if k != "log"}
        )
        self.logs = opts.out / "logs"
        self.step = 0

    # -- plumbing ---------------------------------------------------------------
    def say(self, text: str) -> None:
        self.step += 1
        self.o.log(f"[{self.step:2d}] {text}")

    @contextmanager
    def server(self, name: str, **settings: str) -> Iterator[Server | None]:
        """A fresh server process (None for --url: the caller uses the URL)."""
        if self.o.url is not None and name == "service":
            yield None
            return
        if name == "naive":
            s = processes.start_naive(self.o.repository, self.logs, threads=0)
        elif name == "plain":
            s = processes.start_plain(self.o.repository, self.logs)
        elif name == "litserve":
            s = processes.start_litserve(self.o.repository, self.logs)
        else:
            s = processes.start_service(name, self.o.repository, self.logs, None, **settings)
        self.report.startup[name] = {"seconds": round(s.startup_s, 3)}
        self.say(f"{name}: ready {s.startup_s:.2f} s after start")
        try:
            yield s
        finally:
            self.report.startup[name].update(s.memory_mib())
            s.stop()

    def _target(self, s: Server | None) -> tuple[str, int, str]:
        url = s.url if s is not None else str(self.o.url)
        host_port = url.split("://", 1)[1].rstrip("/")
        host, _, port = host_port.partition(":")
        return host, int(port or 80), url

    def _requests(self, s: Server | None, w: workloads.Workload) -> list[bytes]:
        host, port, _ = self._target(s)
        return [loadgen.encode(f"{host}:{port}", w.path, b) for b in w.bodies()]

    def point(
        self, s: Server | None, w: workloads.Workload, mode: str, load: float, seconds: float
    ) -> dict[str, Any]:
        host, port, url = self._target(s)
        reqs = self._requests(s, w)
        ours = s is None or s.name.startswith("service")
        before = processes.scrape(url) if ours else {}
        used = s.cpu_s() if s is not None else 0.0
        if mode == "closed":
            p = asyncio.run(loadgen.closed_loop(host, port, reqs, int(load), seconds))
        else:
            p = asyncio.run(loadgen.open_loop(host, port, reqs, load, seconds))
        row = {"workload": w.name, **p.summary()}
        row["texts_per_s"] = round(p.throughput * w.texts_per_request, 1)
        answered = p.throughput * p.seconds
        if s is not None and answered:  # every thread of every process of the server
            row["server_cpu_ms_per_request"] = round((s.cpu_s() - used) / answered * 1000, 4)
        if before:
            after = processes.scrape(url)
            row.update(self._server_side(before, after, w.model, p.seconds))
        return row

    @staticmethod
    def _server_side(before: Any, after: Any, model: str, seconds: float) -> dict[str, Any]:
        d = processes.delta
        batches = d(before, after, "attnserve_batch_size_count", model=model)
        texts = d(before, after, "attnserve_batch_size_sum", model=model)
        real = d(before, after, "attnserve_batch_tokens_sum", model=model)
        padded = d(before, after, "attnserve_batch_padded_tokens_sum", model=model)
        gen = d(before, after, "attnserve_generated_tokens_total", model=model)
        return {
            "batches": int(batches),
            "mean_batch_size": round(texts / batches, 2) if batches else None,
            "padded_over_real": round(padded / real, 4) if real else None,
            "real_tokens": int(real),
            "padded_tokens": int(padded),
            "generated_tokens_per_s": round(gen / seconds, 1) if gen else None,
            "batch_size_histogram": processes.histogram(
                before, after, "attnserve_batch_size", model
            ),
        }

    # -- the parts ------------------------------------------------------------------
    def sweeps(self, name: str, s: Server | None, w: workloads.Workload) -> None:
        rows = []
        for c in self.o.concurrency:
            rows.append(self.point(s, w, "closed", c, self.o.seconds))
            self._said(name, rows[-1])
        for r in self.o.rates:
            rows.append(self.point(s, w, "open", r, self.o.seconds))
            self._said(name, rows[-1])
        self.report.sweeps[f"{name}/{w.name}"] = rows

    def _said(self, name: str, row: dict[str, Any]) -> None:
        load = f"{row['mode']} {'c=' if row['mode'] == 'closed' else 'rate='}{row['load']:g}"
        extra = f", batch {row['mean_batch_size']}" if row.get("mean_batch_size") else ""
        errors = f", errors {row['errors']}" if row["errors"] else ""
        self.say(
            f"{name} {row['workload']} {load}: {row['throughput']:.0f} req/s, "
            f"p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms{extra}{errors}"
        )

    def run(self) -> Report:
        o = self.o
        mixed = workloads.load("classify_mixed", o.data)
        bulk = workloads.load("classify_mixed", o.data, texts_per_request=o.bulk)
        with self.server("naive") as naive:
            assert naive is not None  # only the service may be --url
            self.sweeps("naive", naive, mixed)
            naive.pause()  # until its turn in the peers' rounds
            if o.url is None:
                with self.server("service-nobatch", max_batch_size="1") as nobatch:
                    self.sweeps("service-nobatch", nobatch, mixed)
            with self.server("plain") as plain, self.server("litserve") as litserve:
                assert plain is not None and litserve is not None
                for peer in (plain, litserve):
                    peer.pause()
                with self.server("service") as service:
                    self.sweeps("service", service, mixed)
                    for name in ("classify_short", "classify_long"):
                        w = workloads.load(name, o.data)
                        row = self.point(service, w, "closed", 64, o.seconds)
                        self._said("service", row)
                        self.report.sweeps[f"service/{name}"] = [row]
                    self.ceiling_rounds(service, mixed, bulk)
                    peers = {"plain": plain, "litserve": litserve, "naive": naive}
                    self.peer_rounds(service, peers, mixed)
                    self.translation_rounds(service)
        self.targets()
        return self.report

    def peer_rounds(
        self, service: Server | None, peers: dict[str, Server], w: workloads.Workload
    ) -> None:
        """The service and its peers on the same texts, one at a time (the others paused),
        in interleaved rounds; one text per request, at each of ``PEER_CLIENTS``."""
        rows = []
        for r in range(self.o.rounds):
            row: dict[str, dict[str, Any]] = {}
            for clients in PEER_CLIENTS:
                for name, s in {"service": service, **peers}.items():
                    if s is not None and name != "service":
                        s.resume()
                    try:
                        row[f"{name}/{clients}"] = self.point(
                            s, w, "closed", clients, self.o.seconds
                        )
                    finally:
                        if s is not None and name != "service":
                            s.pause()
            rows.append(row)
            said = ", ".join(
                f"{k} {v['throughput']:.0f} req/s (p99 {v['p99_ms']:.0f} ms)"
                for k, v in row.items()
            )
            self.say(f"round {r + 1}/{self.o.rounds} peers, 1 text per request: {said}")
        self.report.rounds["peers"] = rows

    def ceiling_rounds(
        self, s: Server | None, mixed: workloads.Workload, bulk: workloads.Workload
    ) -> None:
        v2_mixed = workloads.load("classify_v2", self.o.data)
        threads = self.engine_threads(self._target(s)[2])
        rows = []
        for r in range(self.o.rounds):
            top = ceiling.classifier_ceiling(
                self.o.repository, mixed.texts, seconds=self.o.seconds / 2
            )
            one = self.point(s, mixed, "closed", 64, self.o.seconds / 2)
            many = self.point(s, bulk, "closed", 8, self.o.seconds / 2)
            v2 = self.point(s, v2_mixed, "closed", 64, self.o.seconds / 2)
            engine = {  # each on the texts its workload sent, in the service's batch size
                name: ceiling.engine_cpu(
                    self.o.repository,
                    work.texts,
                    batch=max(1, round(point.get("mean_batch_size") or 1)),
                    threads=threads,
                    seconds=self.o.seconds / 4,
                )
                for name, point, work in (
                    ("1_text", one, mixed),
                    (f"{self.o.bulk}_texts", many, bulk),
                    ("v2", v2, v2_mixed),
                )
            }
            rows.append(
                {
                    "ceiling": top,
                    "service_1_text": one,
                    f"service_{self.o.bulk}_texts": many,
                    "service_v2": v2,
                    "engine": engine,
                }
            )
            self.say(
                f"round {r + 1}/{self.o.rounds}: ceiling {top['texts_per_s']:.0f} texts/s "
                f"(batch {top['best_batch_size']}, {top['best_layout']} workers x threads); service {one['texts_per_s']:.0f} texts/s with 1 "
                f"text per request, {many['texts_per_s']:.0f} with {self.o.bulk}"
            )
        self.report.rounds["classification"] = rows

    def translation_rounds(self, s: Server | None) -> None:
        """The service at 32 clients (one source per request) against the PyTorch reference
        decoder and CTranslate2 offline on the same weights, round by round; the service is
        paused while the others run."""
        from benchmarks.baselines import ctranslate2_model as ct2

        n = self.o.ct2_sentences
        folder = self.o.out / "ctranslate2"
        peers: dict[int, tuple[ct2.Peer, int]] = {}
        with self._paused(s):
            probe = ct2.Peer.open(self.o.repository, folder)
            first = [r["source"] for r in workloads.test_rows(self.o.data, "en-fr")[:200]]
            ident = ct2.greedy_identity(probe, self.o.repository, probe.sources(first))
        self.report.batching["ctranslate2_greedy_identity"] = ident
        self.say(f"CTranslate2 on the served weights, greedy identity: {ident}")
        if ident["identical"] != ident["sentences"]:
            raise RuntimeError(f"CTranslate2 does not decode like attnserve: {ident}")
        for name, beam in (("translate_greedy", 1), ("translate_beam4", 4)):
            w = workloads.load(name, self.o.data)
            with self._paused(s):
                sample = probe.sources(w.texts[:n])
                peer, tokens, tried = ct2.best(self.o.repository, folder, sample, beam)
                peers[beam] = (peer, tokens)
                self.report.batching[f"ctranslate2_layouts_beam{beam}"] = tried
                self.say(
                    f"CTranslate2 beam {beam}: best {peer.layout}@{tokens} of {tried} tokens/s"
                )
            rows = []
            for r in range(self.o.rounds):
                texts = w.texts[r * self.o.sentences : (r + 1) * self.o.sentences]
                with self._paused(s):
                    ref = ceiling.reference_decoder(self.o.repository, texts, beam=beam)
                    peer, tokens = peers[beam]
                    chunk = w.texts[r * n : (r + 1) * n]
                    theirs = peer.time(peer.sources(chunk), beam, tokens)
                served = self.point(s, w, "closed", 32, self.o.seconds)
                rows.append({"reference": ref, "service": served, "ctranslate2": theirs})
                self.say(
                    f"round {r + 1}/{self.o.rounds} {name}: service "
                    f"{served.get('generated_tokens_per_s') or 0:.0f} tokens/s, CTranslate2 "
                    f"{theirs['tokens_per_s']:.0f} ({peer.layout}, offline), PyTorch reference "
                    f"{ref['tokens_per_s']:.0f} tokens/s"
                )
            self.report.rounds[name] = rows

    @contextmanager
    def _paused(self, s: Server | None) -> Iterator[None]:
        """The service stopped (SIGSTOP) while something else is timed in this process."""
        if s is not None:
            s.pause()
        try:
            yield
        finally:
            if s is not None:
                s.resume()

    @staticmethod
    def engine_threads(url: str) -> int:
        """ONNX Runtime threads per session of the service's classifier (its /v1/models)."""
        for m in httpx.get(f"{url}/v1/models", timeout=10).json()["models"]:
            if m["name"] == "sentiment" and m.get("layout"):
                return int(m["layout"]["threads"])
        return 1

    # -- figures ----------------------------------------------------------------------
    def overhead(self) -> None:
        """Server CPU per request less the engine's CPU for its batches, per workload: the
        engine alone's CPU per padded token times the padded tokens the service ran per
        request (from its metrics)."""
        rows = self.report.rounds["classification"]
        keys = {"1_text": "service_1_text", f"{self.o.bulk}_texts": f"service_{self.o.bulk}_texts"}
        keys["v2"] = "service_v2"
        out = {}
        for name, key in keys.items():
            server, engine = [], []
            for r in rows:
                point = r[key]
                answered = point["throughput"] * point["seconds"]
                if "server_cpu_ms_per_request" not in point or not answered:
                    continue
                per_token = r["engine"][name]["cpu_ms_per_padded_token"]
                server.append(point["server_cpu_ms_per_request"])
                engine.append(per_token * point["padded_tokens"] / answered)
            if not server:
                continue
            out[name] = {
                "server_cpu_ms_per_request": round(statistics.median(server), 4),
                "engine_cpu_ms_per_request": round(statistics.median(engine), 4),
                "overhead_ms_per_request": round(
                    statistics.median(s - e for s, e in zip(server, engine, strict=True)), 4
                ),
            }
        self.report.overhead = out

    def targets(self) -> None:
        self.overhead()
        rep, o = self.report, self.o
        cls = rep.rounds["classification"]
        bulk_key = f"service_{o.bulk}_texts"
        ratio_bulk = statistics.median(
            r[bulk_key]["texts_per_s"] / r["ceiling"]["texts_per_s"] for r in cls
        )
        ratio_one = statistics.median(
            r["service_1_text"]["texts_per_s"] / r["ceiling"]["texts_per_s"] for r in cls
        )

        def one_session(r: dict[str, Any]) -> float:  # the ceiling of earlier runs
            by = r["ceiling"]["by_batch_size_and_layout"]
            return max(v for k, v in by.items() if k.split("@")[1].startswith("1x"))

        old_bulk = statistics.median(r[bulk_key]["texts_per_s"] / one_session(r) for r in cls)
        old_one = statistics.median(
            r["service_1_text"]["texts_per_s"] / one_session(r) for r in cls
        )
        earlier = "against one session with every thread (the ceiling of earlier runs)"
        rep.targets.append(
            Target(
                "service / ceiling, classification",
                round(ratio_bulk, 3),
                0.95,
                detail=f"{o.bulk} texts per request, 8 clients; {earlier}: {old_bulk:.3f}",
            )
        )
        rep.targets.append(
            Target(
                "service / ceiling, classification, 1 text per request",
                round(ratio_one, 3),
                0.7,
                detail=f"64 clients; {earlier}: {old_one:.3f}",
            )
        )
        one = rep.overhead.get("1_text")
        if one:
            rep.targets.append(
                Target(
                    "serving overhead, ms of CPU per one-text request",
                    one["overhead_ms_per_request"],
                    0.2,
                    higher_is_better=False,
                    detail=f"server {one['server_cpu_ms_per_request']:.3f} ms, engine alone "
                    f"{one['engine_cpu_ms_per_request']:.3f} ms (64 clients); "
                    + ", ".join(
                        f"{k}: {v['overhead_ms_per_request']:.3f} ms"
                        for k, v in rep.overhead.items()
                        if k != "1_text"
                    ),
                )
            )
        single = next(
            (
                r
                for r in rep.sweeps["service/classify_mixed"]
                if r["mode"] == "closed" and r["load"] == 1
            ),
            None,
        )
        if single:
            rep.targets.append(
                Target(
                    "p50 at one client, one text (ms)",
                    single["p50_ms"],
                    1.5,
                    higher_is_better=False,
                )
            )
        for peer, goal in (("plain", 1.5), ("litserve", 2.0)):
            for clients in PEER_CLIENTS:
                pairs = [
                    (r[f"service/{clients}"], r[f"{peer}/{clients}"])
                    for r in rep.rounds.get("peers", [])
                ]
                if not pairs:
                    continue
                ratio = statistics.median(a["throughput"] / b["throughput"] for a, b in pairs)
                p99 = (
                    statistics.median(a["p99_ms"] for a, _ in pairs),
                    statistics.median(b["p99_ms"] for _, b in pairs),
                )
                rep.targets.append(
                    Target(
                        f"service / {peer}, req/s at {clients} clients, 1 text, p99 no higher",
                        round(ratio if p99[0] <= p99[1] else 0.0, 2),
                        goal,
                        detail=f"p99 {p99[0]:.0f} vs {p99[1]:.0f} ms"
                        + (
                            ""
                            if p99[0] <= p99[1]
                            else f" (service p99 higher: counted as 0; ratio {ratio:.2f})"
                        ),
                    )
                )
        # Saturation: the largest closed-loop concurrency, the same load on both; the
        # service's p99 there must be no worse than the naive endpoint's.
        top = max(o.concurrency)
        naive = next(
            r
            for r in rep.sweeps["naive/classify_mixed"]
            if r["mode"] == "closed" and r["load"] == top
        )
        service_rows = rep.sweeps["service/classify_mixed"]
        ours = next(r for r in service_rows if r["mode"] == "closed" and r["load"] == top)
        ratio = (
            ours["throughput"] / naive["throughput"] if ours["p99_ms"] <= naive["p99_ms"] else 0.0
        )
        rep.targets.append(
            Target(
                "service / naive PyTorch, throughput at saturation with equal or lower p99",
                round(ratio, 2),
                3.0,
                detail=f"{top} clients: service {ours['throughput']:.0f} req/s at p99 {ours['p99_ms']:.0f} ms, "
                f"naive {naive['throughput']:.0f} req/s at p99 {naive['p99_ms']:.0f} ms"
                + ("" if ratio else " (service p99 higher: counted as 0)"),
            )
        )
        padded = sum(r["padded_tokens"] for r in service_rows)
        real = sum(r["real_tokens"] for r in service_rows)
        rep.targets.append(
            Target(
                "padded / real tokens, mixed lengths",
                round(padded / real, 3),
                1.15,
                higher_is_better=False,
                detail=f"all of the service's sweep on the mixed workload ({real:,} real tokens)",
            )
        )
        beam = rep.rounds["translate_beam4"]
        ratio_tr = statistics.median(
            (r["service"]["generated_tokens_per_s"] or 0) / r["reference"]["tokens_per_s"]
            for r in beam
        )
        rep.targets.append(
            Target(
                "translation tokens/s, service / PyTorch reference, beam 4",
                round(ratio_tr, 2),
                2.0,
            )
        )
        for name, label in (("translate_greedy", "greedy"), ("translate_beam4", "beam 4")):
            rows_ct2 = [r for r in rep.rounds[name] if "ctranslate2" in r]
            if not rows_ct2:
                continue
            ratio_ct2 = statistics.median(
                (r["service"]["generated_tokens_per_s"] or 0) / r["ctranslate2"]["tokens_per_s"]
                for r in rows_ct2
            )
            layout = rep.batching.get(f"ctranslate2_layouts_beam{1 if label == 'greedy' else 4}")
            rep.targets.append(
                Target(
                    f"translation tokens/s, service (32 clients, HTTP) / CTranslate2 offline, {label}",
                    round(ratio_ct2, 2),
                    1.0,
                    detail=f"same weights, fp32; CTranslate2 at its best layout of {layout}",
                )
            )
        if "service" in rep.startup:
            rep.targets.append(
                Target(
                    "start-up to ready (s)",
                    rep.startup["service"]["seconds"],
                    3.0,
                    higher_is_better=False,
                    detail=f"resident memory after the run {rep.startup['service'].get('rss_mib')} MiB, "
                    f"peak {rep.startup['service'].get('peak_rss_mib')} MiB",
                )
            )
        nb = rep.sweeps.get("service-nobatch/classify_mixed")
        if nb:
            best_nb = max(nb, key=lambda r: r["throughput"])
            rep.batching["no_batching_best_req_per_s"] = best_nb["throughput"]
            rep.batching["batching_over_no_batching"] = round(
                max(r["throughput"] for r in service_rows) / best_nb["throughput"], 2
            )


def run(opts: Options) -> Path:
    """Run everything, write result.json and the plots into ``opts.out``; return the JSON path."""
    from benchmarks import plots
    from benchmarks import report as report_md

    opts.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    report = Bench(opts).run()
    data = report.as_json()
    data["seconds"] = round(time.monotonic() - started, 1)
    path = opts.out / "result.json"
    path.write_text(json.dumps(data, indent=2))
    (opts.out / "report.md").write_text(report_md.markdown(data))
    for png in plots.draw(data, opts.out):
        opts.log(f"plot: {png}")
    opts.log(f"results: {path} ({data['seconds']:.0f} s)")
    for t in report.targets:
        goal = ("≥ " if t.higher_is_better else "≤ ") + f"{t.goal:g}"
        opts.log(
            f"  {'met ' if t.met else 'MISS'}  {t.name}: {t.measured:g} (goal {goal}) {t.detail}"
        )
    return path
