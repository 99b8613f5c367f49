"""Read English->French pairs out of gettext catalogs (.po/.mo) inside archives."""

from __future__ import annotations

import re
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polib

from models.data.debian import open_data

# fr or fr_FR catalogs, anywhere in the archive.
CATALOG_RE = re.compile(r"/(?:fr|fr_FR)/LC_MESSAGES/([^/]+)\.(po|mo)$")
# Plone-style message ids ("label_add_item", "help_foo.bar") are keys, not English.
_ID_LIKE_RE = re.compile(r"^[a-z0-9]+(?:[_.\-][a-z0-9]+)+$")
_DEFAULT_RE = re.compile(r'Default:\s*"(.*)"\s*$', re.S)


@dataclass(frozen=True)
class RawPair:
    source: str
    target: str
    origin: str  # "<package>:<member>"


def catalog_members(names: list[str]) -> list[str]:
    """French catalog members, taking the .po where the same catalog is also compiled."""
    found: dict[str, str] = {}
    for name in names:
        m = CATALOG_RE.search(name)
        if not m:
            continue
        key = name[: m.start(2) - 1]
        if m.group(2) == "po" or key not in found:
            found[key] = name
    return sorted(found.values())


def _read_members(archive: Path) -> Iterator[tuple[str, bytes]]:
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as z:
            for name in catalog_members(z.namelist()):
                yield name, z.read(name)
    else:
        with open_data(archive) if archive.suffix == ".deb" else tarfile.open(archive) as t:
            for name in catalog_members(t.getnames()):
                f = t.extractfile(name)
                if f is not None:
                    yield name, f.read()


def _english(entry: polib.POEntry | polib.MOEntry) -> str:
    """The English side; Plone keeps it in a ``Default:`` comment when msgid is a key."""
    msgid = entry.msgid
    if _ID_LIKE_RE.match(msgid.strip()):
        m = _DEFAULT_RE.search(entry.comment or "")
        return m.group(1).replace('\\"', '"') if m else ""
    return msgid


def read_pairs(archive: Path, package: str) -> Iterator[RawPair]:
    """Current, non-fuzzy, translated entries (plural forms as two pairs)."""
    for member, content in _read_members(archive):
        origin = f"{package}:{member}"
        if member.endswith(".po"):
            catalog: polib.POFile | polib.MOFile = polib.pofile(content.decode("utf-8"))
        else:
            catalog = polib.mofile(content)
        for entry in catalog:
            if entry.obsolete or "fuzzy" in entry.flags or not entry.msgid:
                continue
            english = _english(entry)
            if entry.msgid_plural:
                forms = entry.msgstr_plural
                if forms.get(0):
                    yield RawPair(english, forms[0], origin)
                if forms.get(1):
                    yield RawPair(entry.msgid_plural, forms[1], origin)
            elif entry.msgstr:
                yield RawPair(english, entry.msgstr, origin)
