"""Debian packages read straight from the .deb: an ar archive around data.tar.*."""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path

import polib
import pytest

from models.data.catalogs import read_pairs
from models.data.debian import (
    DebianPackage,
    ar_members,
    deb_version,
    fetch_deb,
    find_deb,
    open_data,
)
from models.data.sources import DEBIAN_ENFR, HELD_OUT


def _mo(pairs: dict[str, str]) -> bytes:
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    for en, fr in pairs.items():
        po.append(polib.POEntry(msgid=en, msgstr=fr))
    with tempfile.NamedTemporaryFile(suffix=".mo") as f:  # polib writes .mo to a path only
        po.save_as_mofile(f.name)
        return Path(f.name).read_bytes()


def _tar(files: dict[str, bytes], mode: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _ar(members: dict[str, bytes]) -> bytes:
    out = [b"!<arch>\n"]
    for name, data in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n"
        out += [header.encode(), data, b"\n" if len(data) % 2 else b""]
    return b"".join(out)


def _deb(folder: Path, name: str, version: str, files: dict[str, bytes], data: str = "xz") -> Path:
    members = {
        "debian-binary": b"2.0\n",
        "control.tar.xz": _tar({"./control": b"Package: x\n"}, "w:xz"),
        f"data.tar.{data}": _tar(files, f"w:{data}") if data != "zst" else b"",
    }
    path = folder / f"{name}_{version.replace(':', '%3a')}_all.deb"
    path.write_bytes(_ar(members))
    return path


def test_a_deb_s_french_catalogs_are_read_without_installing(tmp_path: Path) -> None:
    mo = _mo({"Quit the application": "Quitter l'application", "Save": "Enregistrer"})
    files = {
        "./usr/share/locale/fr/LC_MESSAGES/tool.mo": mo,
        "./usr/share/locale/de/LC_MESSAGES/tool.mo": mo,  # not French: not read
        "./usr/share/doc/tool/README": b"docs",
    }
    for data in ("xz", "gz"):
        path = _deb(tmp_path, f"tool-{data}", "1:2.0-1+deb12u1", files, data)
        pairs = sorted((p.source, p.target) for p in read_pairs(path, "tool"))
        assert pairs == [("Quit the application", "Quitter l'application"), ("Save", "Enregistrer")]
        assert deb_version(path) == "1:2.0-1+deb12u1"


def test_what_is_not_a_readable_deb_says_why(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an ar archive"):
        ar_members(b"PK\x03\x04 a zip")
    zst = _deb(tmp_path, "new", "1.0", {}, "zst")
    with pytest.raises(ValueError, match="zstd"):
        open_data(zst)
    with pytest.raises(ValueError, match="name_version_arch"):
        deb_version(tmp_path / "odd.deb")
    odd = tmp_path / "odd_1.0_all.deb"
    odd.write_bytes(_ar({"debian-binary": b"2.0\n"}))
    with pytest.raises(ValueError, match=r"no data\.tar"):
        open_data(odd)


def test_the_cache_holds_a_package_at_its_pinned_version_only(tmp_path: Path) -> None:
    (tmp_path / "debian").mkdir()
    _deb(tmp_path / "debian", "tool", "1.0-1", {})
    assert find_deb(DebianPackage("tool", "2.0-1", "MIT"), tmp_path) is None
    found = find_deb(DebianPackage("tool", "1.0-1", "MIT"), tmp_path)
    assert found is not None and found.name == "tool_1.0-1_all.deb"


def test_a_pinned_package_comes_from_debian_and_a_gone_pin_names_the_new_version(
    cache_dir: Path,
) -> None:
    small = next(p for p in DEBIAN_ENFR if p.name == "libc-l10n")
    path = fetch_deb(small, cache_dir)  # apt-get download, once into the cache
    assert deb_version(path) == small.version
    assert sum(1 for _ in read_pairs(path, small.name)) > 1000
    with pytest.raises(RuntimeError, match="update the pin"):
        fetch_deb(DebianPackage("libc-l10n", "0.0-0", "LGPL"), cache_dir / "elsewhere")


def test_the_held_out_catalogs_are_three_programs_of_the_debian_list() -> None:
    assert len(HELD_OUT) >= 3 and set(HELD_OUT) <= {p.name for p in DEBIAN_ENFR}
