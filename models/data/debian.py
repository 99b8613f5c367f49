"""Debian packages that carry French gettext catalogs.

A package is fetched with ``apt-get download NAME=VERSION`` into the cache (never
installed) and read straight from the ``.deb``: an ``ar`` archive whose ``data.tar.*``
member holds the files. The version is pinned, and recorded in the corpus manifest. Debian
replaces a package when a security update lands: a pin the archive no longer has is an
error that names the version it has now (update the pin; the corpus, and the figures of
models trained on it, change with it).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

AR_MAGIC = b"!<arch>\n"


@dataclass(frozen=True)
class DebianPackage:
    name: str  # Debian binary package (bookworm)
    version: str
    licence: str

    @property
    def spec(self) -> str:
        return f"debian:{self.name}"


def deb_version(path: Path) -> str:
    """The version in a ``.deb``'s file name (``git_1%3a2.39.5-0+deb12u3_amd64.deb``)."""
    parts = path.name[: -len(".deb")].split("_")
    if len(parts) != 3:
        raise ValueError(f"{path.name}: not a Debian package file name (name_version_arch.deb)")
    return unquote(parts[1])


def find_deb(package: DebianPackage, cache: Path) -> Path | None:
    """The cached ``.deb`` of ``package`` at its pinned version."""
    folder = cache / "debian"
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob(f"{package.name}_*.deb")):
        if deb_version(path) == package.version:
            return path
    return None


def fetch_deb(package: DebianPackage, cache: Path) -> Path:
    """Path of the ``.deb`` of ``package``, downloading it with apt-get if not cached."""
    found = find_deb(package, cache)
    if found is not None:
        return found
    if shutil.which("apt-get") is None:
        raise RuntimeError(
            f"{package.name}: apt-get not found; this corpus reads Debian packages "
            f"(fetch {package.name}_*.deb by hand into {cache / 'debian'})"
        )
    folder = cache / "debian"
    folder.mkdir(parents=True, exist_ok=True)
    done = _download(package, folder)
    if done.returncode != 0:
        # A fresh machine has no package lists yet (or old ones).
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
        done = _download(package, folder)
    found = find_deb(package, cache)
    if done.returncode != 0 or found is None:
        policy = subprocess.run(
            ["apt-cache", "policy", package.name], capture_output=True, text=True
        ).stdout
        now = next(
            (ln.split(":", 1)[1].strip() for ln in policy.splitlines() if "Candidate:" in ln), "?"
        )
        raise RuntimeError(
            f"could not download Debian package {package.name}={package.version} "
            f"(apt-get exit {done.returncode}: {done.stderr.strip()[-400:]}); the archive "
            f"offers version {now}: update the pin in models/data/sources.py (the corpus "
            "and the figures of models trained on it change with it)"
        )
    return found


def _download(package: DebianPackage, folder: Path) -> subprocess.CompletedProcess[str]:
    cmd = ["apt-get", "download", "-qq", f"{package.name}={package.version}"]
    return subprocess.run(cmd, cwd=folder, capture_output=True, text=True)


def ar_members(data: bytes) -> dict[str, bytes]:
    """The members of an ``ar`` archive (the format of a ``.deb``) by name."""
    if not data.startswith(AR_MAGIC):
        raise ValueError("not an ar archive (a .deb starts with '!<arch>')")
    out: dict[str, bytes] = {}
    pos = len(AR_MAGIC)
    while pos + 60 <= len(data):
        header = data[pos : pos + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        pos += 60
        out[name] = data[pos : pos + size]
        pos += size + (size % 2)  # members are 2-byte aligned
    return out


def open_data(path: Path) -> tarfile.TarFile:
    """The file tree of a ``.deb`` (its ``data.tar.xz``/``.gz``/``.bz2``)."""
    members = ar_members(path.read_bytes())
    for name, blob in members.items():
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                raise ValueError(f"{path.name}: {name} is zstd-compressed, which is not read here")
            return tarfile.open(fileobj=io.BytesIO(blob))
    raise ValueError(f"{path.name}: no data.tar member in the package")
