"""Every setting of the service, in one typed object.

Each field is read from the environment as ``ATTNSERVE_<NAME>`` (e.g.
``ATTNSERVE_MAX_BATCH_SIZE=64``); ``attnserve serve`` flags override the environment.
``attnserve serve --settings`` prints this table with the defaults. Settings that
contradict each other stop the service at start-up with a message that says which.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from runtime.candidates import MAX_BEAM

PREFIX = "ATTNSERVE_"
LISTS = {"api_keys", "cors_origins"}  # comma-separated in the environment
# Variables of the project's other commands that share the prefix: not service settings, so
# the loader leaves them alone (a typo of a setting still stops the service).
OTHER_VARIABLES = {
    "ATTNSERVE_CACHE": "download cache of `attnserve data` (default ~/.cache/attnserve)",
}


class SettingsError(ValueError):
    """Settings that cannot work; the message names the variable to change."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # -- where and what ---------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 in containers).")
    port: int = Field(8000, ge=1, le=65535, description="TCP port.")
    model_repository: Path = Field(
        Path("model_repository"),
        description="Folder of <model>/<version>/ folders; every model in it is loaded.",
    )
    versions: dict[str, int] = Field(
        default_factory=dict,
        description="Pinned versions as name:version pairs (env: 'en-fr:1,sentiment:2'); "
        "other models serve their latest version.",
    )
    # -- execution --------------------------------------------------------------
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="Execution provider: cuda, cpu, or auto (cuda when this onnxruntime build "
        "has it). A model that asked for cuda and got CPU is marked failed, never served.",
    )
    precision: Literal["auto", "fp32", "int8", "fp16"] = Field(
        "auto",
        description="Graph precision; auto takes each model's recorded default for the "
        "device (config.json 'precision').",
    )
    intra_op_threads: int = Field(
        0,
        ge=0,
        description="ONNX Runtime intra-op threads per session (0: cores ÷ ATTNSERVE_ENGINE_WORKERS).",
    )
    warmup: bool = Field(True, description="Run each model once before reporting ready.")
    tuning_file: Path = Field(
        Path("tuning.json"),
        description="What `attnserve tune` measured on this host: each model's precision "
        "and engine workers × ONNX Runtime threads. Used when the file exists and was "
        "measured on the same kind of host (CPU, cores, instruction sets, ONNX Runtime); "
        "ATTNSERVE_PRECISION, ATTNSERVE_ENGINE_WORKERS and ATTNSERVE_INTRA_OP_THREADS, "
        "when set, win over it.",
    )
    # -- batching ---------------------------------------------------------------
    max_batch_size: int = Field(32, ge=1, le=1024, description="Texts per batch at most.")
    max_batch_tokens: int = Field(
        8192,
        ge=1,
        description="Padded tokens per batch at most (texts × longest; translation counts "
        "beam rows). Caps memory; a larger batch waits for the next one.",
    )
    max_wait_ms: float = Field(
        0.0,
        ge=0,
        description="How long the oldest queued text may wait for others to join its batch "
        "when the engine is free. 0: a batch leaves as soon as the engine is free, and the "
        "texts that arrive while it runs form the next one (measured best here: "
        "docs/PERFORMANCE.md). Raise it only where a measurement shows bigger batches pay.",
    )
    max_padding: float = Field(
        1.15,
        ge=1.0,
        description="Padded tokens over real tokens of a batch at most: texts are sorted by "
        "length and a batch takes the run around the oldest text that stays under this; "
        "the rest wait for a batch of their own length. On a CPU padding costs like real "
        "tokens; raise it (e.g. 2) on a GPU, where bigger batches matter more.",
    )
    continuous_batching: bool = Field(
        False,
        description=(
            "Translation on a decoder-step graph with per-row positions: sources join and "
            "leave the running batch between decoder steps and are answered the step they "
            "finish. Off by default: on the 2-core hosts measured it gave 0.76-0.85x the "
            "tokens/s of static batches and a higher p99 (docs/PERFORMANCE.md)."
        ),
    )
    engine_workers: int = Field(
        2,
        ge=1,
        le=64,
        description="Batches of one model running at once, each on its own thread (ONNX "
        "Runtime sessions are thread-safe): one batch computes while the next one's inputs "
        "and the last one's answers are handled. With ATTNSERVE_INTRA_OP_THREADS=0 each "
        "session gets cores ÷ workers threads.",
    )
    max_queue: int = Field(
        1024,
        ge=1,
        description="Texts waiting per model at most; beyond it requests get 429 at once "
        "with Retry-After.",
    )
    max_in_flight: int = Field(
        64,
        ge=1,
        description="Inference requests this process handles at once, counted from when a "
        "request's body is complete (a slow upload holds no place); beyond it 429 with "
        "Retry-After before the body is parsed, so that a flood cannot starve the event "
        "loop that the admitted requests need.",
    )
    # -- requests ---------------------------------------------------------------
    request_timeout_s: float = Field(
        30.0, gt=0, description="Default deadline; a request still queued then gets 504."
    )
    max_timeout_s: float = Field(300.0, gt=0, description="Largest 'timeout' a request may ask.")
    max_texts: int = Field(64, ge=1, description="Texts per request at most.")
    max_chars: int = Field(5000, ge=1, description="Characters per text at most.")
    max_request_bytes: int = Field(
        1_000_000, ge=1024, description="Request body size at most (413 beyond it)."
    )
    max_beam_size: int = Field(8, ge=1, le=MAX_BEAM, description="Largest beam a request may ask.")
    max_split_tokens: int = Field(
        1024,
        ge=1,
        description="Tokens a text to /v1/translate may have in all when it is over the "
        "model's limit and translated in pieces (sentences, then clauses); beyond it a 422 "
        "(or truncate). The work of a text grows with its tokens: this bounds what one "
        "text may cost at about this many tokens' worth of decoding.",
    )
    max_renders: int = Field(
        8,
        ge=1,
        description="/v1/attention requests under way at once (their answers, JSON maps or "
        "PNG, are built on a thread of their own); beyond it 429 with Retry-After before "
        "any work is done.",
    )
    # -- the door: what a connection may cost before a request reaches the app ----
    header_timeout_s: float = Field(
        10.0, gt=0, description="A request head must arrive within this (408, then close)."
    )
    body_timeout_s: float = Field(
        10.0,
        gt=0,
        description="A body that sends nothing for this long gets 408; so does one that, "
        "after this long, arrives slower than ATTNSERVE_MIN_BODY_BYTES_PER_S.",
    )
    min_body_bytes_per_s: int = Field(1024, ge=0, description="Slowest body rate accepted.")
    keep_alive_s: float = Field(5.0, gt=0, description="Idle keep-alive connections close.")
    max_connections: int = Field(
        1024,
        ge=1,
        description="Open connections at most; beyond it a new one gets 503 and is closed "
        "(logged). The open-file limit is raised to fit where the hard limit allows.",
    )
    max_header_bytes: int = Field(
        16384, ge=1024, description="Request head size at most (431 beyond it)."
    )
    max_headers: int = Field(100, ge=8, description="Request headers at most (431 beyond).")
    # -- life cycle -------------------------------------------------------------
    grace_period_s: float = Field(
        30.0,
        ge=0,
        description="On SIGTERM: readiness turns 503, new requests get 503, queued and "
        "running ones finish for up to this long, then the process exits.",
    )
    model_control: bool = Field(
        False,
        description="Allow POST /v2/repository/models/{name}/load and /unload (Triton's "
        "explicit model control). Off by default: anyone who reaches the port could unload "
        "a model; turn it on with ATTNSERVE_API_KEYS.",
    )
    repository_poll_s: float = Field(
        0.0,
        ge=0,
        description="Every this many seconds, load new models and newer versions found in the "
        "repository (pinned models stay pinned), swapped in without dropping a request. "
        "0: off (the repository is read at start and on load requests).",
    )
    # -- access ---------------------------------------------------------------
    api_keys: tuple[SecretStr, ...] = Field(
        (),
        description="API keys (env: comma-separated, each at least 16 characters). When any "
        "is set (here or in ATTNSERVE_API_KEYS_FILE), every endpoint except /v2/health/live, "
        "/v2/health/ready and the explorer's static page needs 'Authorization: Bearer <key>' "
        "(401 otherwise); keys are compared in constant time and never logged.",
    )
    api_keys_file: Path | None = Field(
        None,
        description="File with one API key per line ('#' comments), e.g. a mounted secret; "
        "read at start, added to ATTNSERVE_API_KEYS.",
    )
    metrics_auth: bool = Field(
        False,
        description="With API keys: /metrics needs a key too. Off: Prometheus scrapes "
        "/metrics without one (or serve it on ATTNSERVE_METRICS_PORT, off the public port).",
    )
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Serve /metrics on this port (same host) instead of the API port; 0: "
        "on the API port.",
    )
    cors_origins: tuple[str, ...] = Field(
        (),
        description="Origins allowed to call the API from a browser page of theirs (env: "
        "comma-separated, e.g. 'https://app.example.com'; '*' for any). Empty: CORS off, "
        "browsers allow same-origin calls only.",
    )
    explorer: bool = Field(
        True,
        description="Serve the attention explorer page at /explorer (/ redirects there): "
        "static files that call this service's /v1 API from the browser.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Logging.")
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        description="json: one JSON object per line (time, level, logger, message, "
        "request_id, and per request method, path, status, duration_ms, model), for log "
        "collectors; text: one readable line per record, for people; auto: text when "
        "standard error is a terminal, json otherwise (containers, files, pipes). Request "
        "texts are never logged.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.max_timeout_s < self.request_timeout_s:
            raise ValueError(
                f"request_timeout_s ({self.request_timeout_s}) exceeds max_timeout_s "
                f"({self.max_timeout_s}); raise ATTNSERVE_MAX_TIMEOUT_S or lower the default"
            )
        short = [i for i, k in enumerate(self.api_keys) if len(k.get_secret_value()) < 16]
        if short:
            raise ValueError(
                f"API key #{short[0] + 1} is shorter than 16 characters; use long random keys "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if self.api_keys_file is not None and not self.api_keys_file.is_file():
            raise ValueError(f"api_keys_file {self.api_keys_file} is not a readable file")
        if self.metrics_port and self.metrics_port == self.port:
            raise ValueError("metrics_port equals port; pick another port, or 0 for the API port")
        if self.max_queue < self.max_texts:
            raise ValueError(
                f"max_queue ({self.max_queue}) is smaller than max_texts ({self.max_texts}): "
                "a full-size request could never be queued"
            )
        return self

    @property
    def session_threads(self) -> int:
        """ONNX Runtime intra-op threads per session: the setting, or cores ÷ workers."""
        return self.threads_for(self.engine_workers)

    def threads_for(self, workers: int) -> int:
        """Threads per session with ``workers`` engine workers: the setting, or cores ÷ workers."""
        if self.intra_op_threads:
            return self.intra_op_threads
        return max(1, (os.cpu_count() or 1) // workers)

    def keys(self) -> list[str]:
        """Every API key: ATTNSERVE_API_KEYS and the lines of ATTNSERVE_API_KEYS_FILE."""
        keys = [k.get_secret_value() for k in self.api_keys]
        if self.api_keys_file is not None:
            for n, line in enumerate(self.api_keys_file.read_text().splitlines(), 1):
                line = line.strip()
                if line and not line.startswith("#"):
                    if len(line) < 16:
                        raise SettingsError(
                            f"{PREFIX}API_KEYS_FILE: the key on line {n} is shorter than 16 characters"
                        )
                    keys.append(line)
        return keys

    @property
    def max_wait_s(self) -> float:
        return self.max_wait_ms / 1000.0


def _parse_versions(text: str) -> dict[str, int]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, version = part.rpartition(":")
        if not sep or not name or not version.isdigit() or int(version) < 1:
            raise SettingsError(
                f"{PREFIX}VERSIONS: {part!r} is not name:version (e.g. 'en-fr:1,sentiment:2')"
            )
        out[name] = int(version)
    return out


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Defaults ← ``ATTNSERVE_*`` environment ← ``overrides`` (CLI flags; None ignored)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    known = set(Settings.model_fields)
    for key, raw in env.items():
        if not key.startswith(PREFIX) or key in OTHER_VARIABLES:
            continue
        name = key[len(PREFIX) :].lower()
        if name not in known:
            close = ", ".join(sorted(f"{PREFIX}{k.upper()}" for k in known))
            raise SettingsError(f"{key} is not a setting; the settings are: {close}")
        if name == "versions":
            values[name] = _parse_versions(raw)
        elif name in LISTS:
            values[name] = tuple(p.strip() for p in raw.split(",") if p.strip())
        else:
            values[name] = raw
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            where = ".".join(str(p) for p in err["loc"])
            var = f"{PREFIX}{where.upper()}" if where else "settings"
            problems.append(f"{var}: {err['msg']}")
        raise SettingsError("; ".join(problems)) from None


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting: the documented table."""
    rows = []
    for name, f in Settings.model_fields.items():
        default = f.default_factory() if f.default_factory else f.default  # type: ignore[call-arg]
        if isinstance(default, bool):
            shown = str(default).lower()
        elif isinstance(default, dict):
            shown = ",".join(f"{k}:{v}" for k, v in default.items()) or "(none)"
        elif default is None or default == ():
            shown = "(none)"
        else:
            shown = str(default)
        rows.append((f"{PREFIX}{name.upper()}", shown, f.description or ""))
    return rows
