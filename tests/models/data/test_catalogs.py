import zipfile
from pathlib import Path

import polib

from models.data.catalogs import catalog_members, read_pairs
from models.data.enfr import clean

PO = """
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

msgid "_Delete"
msgstr "_Supprimer"

#, fuzzy
msgid "Fuzzy one"
msgstr "Approximatif"

msgid "Untranslated"
msgstr ""

#. Default: "Add a new item"
msgid "label_add_item"
msgstr "Ajouter un élément"

msgid "One file"
msgid_plural "%(n)s files"
msgstr[0] "Un fichier"
msgstr[1] "%(n)s fichiers"

#~ msgid "Obsolete"
#~ msgstr "Obsolète"
"""


def _wheel(tmp_path: Path) -> Path:
    path = tmp_path / "pkg-1.0-py3-none-any.whl"
    mo = polib.pofile(PO)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("pkg/locale/fr/LC_MESSAGES/django.po", PO)
        z.writestr("pkg/locale/fr/LC_MESSAGES/django.mo", mo.to_binary())
        z.writestr("pkg/locale/de/LC_MESSAGES/django.po", PO)
    return path


def test_members_prefer_po_and_only_french() -> None:
    names = [
        "a/locale/fr/LC_MESSAGES/x.mo",
        "a/locale/fr/LC_MESSAGES/x.po",
        "a/locale/de/LC_MESSAGES/x.po",
        "b/translations/fr_FR/LC_MESSAGES/m.mo",
    ]
    assert catalog_members(names) == [
        "a/locale/fr/LC_MESSAGES/x.po",
        "b/translations/fr_FR/LC_MESSAGES/m.mo",
    ]


def test_pairs_skip_fuzzy_obsolete_untranslated_and_use_plone_defaults(tmp_path: Path) -> None:
    pairs = [(p.source, p.target) for p in read_pairs(_wheel(tmp_path), "pkg")]
    assert pairs == [
        ("_Delete", "_Supprimer"),
        ("Add a new item", "Ajouter un élément"),
        ("One file", "Un fichier"),
        ("%(n)s files", "%(n)s fichiers"),
    ]


def test_clean_strips_accelerators_and_spacing() -> None:
    assert clean("  _Delete\u00a0 selected ") == "Delete selected"
    assert clean("Nom\u00a0: %(name)s") == "Nom : %(name)s"
