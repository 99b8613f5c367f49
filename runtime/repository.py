"""The model repository: ``<root>/<model>/<version>/`` folders, checked before use.

A version folder holds ONNX graphs, ``tokenizer.json``, ``config.json`` (what the model
is and how to feed it) and ``manifest.json`` (sha256 and size of every other file, and
how the files were made). A version is used only if every file the manifest lists is
there, whole and unaltered; the error names the file and what is wrong with it.
Versions are positive integers; the highest is served unless one is pinned.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.hashing import sha256_file
from core.text.placeholders import MAX_PLACEHOLDERS, PLACEHOLDER_RE

FORMAT = 1
MANIFEST = "manifest.json"
CONFIG = "config.json"
TASKS = ("classification", "translation")
PRECISIONS = ("fp32", "int8", "fp16")
VERSION_RE = re.compile(r"[1-9][0-9]*", re.ASCII)
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", re.ASCII)


class RepositoryError(ValueError):
    """A model or version is missing, or its files do not match its manifest."""


@dataclass
class ModelVersion:
    name: str
    version: int
    path: Path
    config: dict[str, Any]
    manifest: dict[str, Any]
    unlisted: list[str] = field(default_factory=list)  # files present but not in the manifest

    @property
    def task(self) -> str:
        return str(self.config["task"])

    def graph(self, role: str, precision: str) -> Path:
        """Path of a graph (``classifier``, ``encoder``, ``decoder_step``) at a precision."""
        files = self.config["graphs"].get(role, {})
        if precision not in files:
            have = ", ".join(sorted(files)) or "none"
            raise RepositoryError(
                f"{self.name}/{self.version}: no {precision} {role} graph (available: {have})"
            )
        return self.path / files[precision]

    @property
    def precisions(self) -> list[str]:
        graphs = self.config["graphs"].values()
        return [p for p in PRECISIONS if all(p in g for g in graphs)]


def check_name(root: Path, name: str) -> None:
    """A model name is one folder name: no separators, no '..', nothing outside ``root``."""
    if not NAME_RE.fullmatch(name):
        raise RepositoryError(
            f"{name[:80]!r} is not a model name: use letters, digits, '.', '_' and '-' "
            "(1 to 128, starting with a letter or digit)"
        )


def versions(root: Path, name: str) -> list[int]:
    check_name(root, name)
    folder = root / name
    if not folder.is_dir():
        known = ", ".join(models(root)) or "none"
        raise RepositoryError(f"no model {name!r} in {root} (models there: {known})")
    return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and _is_version(p.name))


def _is_version(name: str) -> bool:
    """1, 2, 10, ... (not 0, 007 or other digits): the folder name is the version."""
    return VERSION_RE.fullmatch(name) is not None


def models(root: Path) -> list[str]:
    """Names of the model folders under ``root`` (those holding at least one version)."""
    if not root.is_dir():
        raise RepositoryError(f"model repository {root} does not exist")
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir()
        and not p.name.startswith(".")
        and any(_is_version(c.name) for c in p.iterdir())
    )


def load(root: Path, name: str, version: int | None = None) -> ModelVersion:
    """The pinned ``version`` of ``name`` (the latest if None), validated."""
    have = versions(root, name)
    if not have:
        raise RepositoryError(f"model {name!r} in {root} has no version folders (1, 2, ...)")
    if version is None:
        version = have[-1]
    elif version not in have:
        listed = ", ".join(map(str, have))
        raise RepositoryError(f"model {name!r} has no version {version} (versions: {listed})")
    return validate(root / name / str(version), name, version)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise RepositoryError(f"{path}: {what} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RepositoryError(f"{path}: {what} is not valid JSON ({e})") from e
    if not isinstance(data, dict):
        raise RepositoryError(f"{path}: {what} must be a JSON object")
    return data


def check_files(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """Raise on the first listed file that is missing, truncated or altered; return the
    names of files present but not listed."""
    files = manifest.get("files")
    if not isinstance(files, dict) or CONFIG not in files:
        raise RepositoryError(
            f"{folder / MANIFEST}: 'files' must list every file, {CONFIG} included"
        )
    for name, entry in files.items():
        path = folder / name
        if not isinstance(entry, dict) or not {"sha256", "bytes"} <= set(entry):
            raise RepositoryError(f"{folder / MANIFEST}: entry {name!r} needs 'sha256' and 'bytes'")
        if Path(name).name != name:
            raise RepositoryError(
                f"{folder / MANIFEST}: file name {name!r} must not contain a path"
            )
        if not path.is_file():
            raise RepositoryError(f"{path}: missing (the manifest lists it)")
        size, want = path.stat().st_size, int(entry["bytes"])
        if size != want:
            kind = "truncated" if size < want else "longer than recorded"
            raise RepositoryError(f"{path}: {kind}: {size} bytes, the manifest says {want}")
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            raise RepositoryError(
                f"{path}: altered: sha256 {digest[:12]}…, the manifest says {entry['sha256'][:12]}…"
            )
    return sorted(p.name for p in folder.iterdir() if p.name not in files and p.name != MANIFEST)


def check_config(folder: Path, config: dict[str, Any], files: dict[str, Any]) -> None:
    where = folder / CONFIG
    for key in ("task", "graphs", "tokenizer", "max_input_tokens"):
        if key not in config:
            raise RepositoryError(f"{where}: '{key}' is missing")
    if not isinstance(config["graphs"], dict) or not all(
        isinstance(g, dict) for g in config["graphs"].values()
    ):
        raise RepositoryError(f"{where}: 'graphs' must map each graph to {{precision: file}}")
    if config["task"] not in TASKS:
        raise RepositoryError(f"{where}: task {config['task']!r} is not one of {TASKS}")
    for role, by_precision in config["graphs"].items():
        for precision, file in by_precision.items():
            if precision not in PRECISIONS:
                raise RepositoryError(
                    f"{where}: {role} precision {precision!r} is not one of {PRECISIONS}"
                )
            if file not in files:
                raise RepositoryError(f"{where}: {role} graph {file!r} is not in the manifest")
    if config["tokenizer"] not in files:
        raise RepositoryError(f"{where}: tokenizer {config['tokenizer']!r} is not in the manifest")
    rules = config.get("placeholders")
    if rules and (
        rules.get("pattern") != PLACEHOLDER_RE.pattern or rules.get("max") != MAX_PLACEHOLDERS
    ):
        raise RepositoryError(
            f"{where}: the model was exported with other placeholder rules than this service "
            "applies; re-export it with this version of attnserve"
        )


def validate(folder: Path, name: str | None = None, version: int | None = None) -> ModelVersion:
    """Check one version folder against its manifest and return it."""
    manifest = _read_json(folder / MANIFEST, MANIFEST)
    if manifest.get("format") != FORMAT:
        raise RepositoryError(
            f"{folder / MANIFEST}: format {manifest.get('format')!r}; this service reads format {FORMAT}"
        )
    unlisted = check_files(folder, manifest)
    config = _read_json(folder / CONFIG, CONFIG)
    check_config(folder, config, manifest["files"])
    return ModelVersion(
        name=name or folder.parent.name,
        version=version if version is not None else int(folder.name),
        path=folder,
        config=config,
        manifest=manifest,
        unlisted=unlisted,
    )
