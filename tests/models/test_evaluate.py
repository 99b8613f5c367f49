"""The translation figures' repetition count and per-catalog breakdown."""

from __future__ import annotations

from models.evaluate import degenerate, translation_metrics


def test_a_degenerate_repetition_is_a_letter_run_or_words_three_times_the_source_lacks() -> None:
    assert degenerate("Great film", "Gretttttttt")
    assert degenerate("Downloading files", "Téléchargement fichiers fichiers fichiers")
    assert degenerate("x", "la ligne de la ligne de la ligne de")
    assert not degenerate("Downloading files", "Téléchargement des fichiers")
    assert not degenerate("Save", "vous vous êtes")  # twice is French, not a loop
    assert not degenerate("Press Zzzz to sleep", "Appuyez sur Zzzz pour dormir")
    assert degenerate("a", "non non non")


def test_translation_metrics_count_repetitions_and_break_down_by_catalog() -> None:
    rows = [
        {"source": "Save", "target": "Enregistrer", "origin": "a"},
        {"source": "Quit", "target": "Quitter", "origin": "b"},
        {"source": "Open", "target": "Ouvrir", "origin": "b"},
    ]
    m = translation_metrics(rows, ["Enregistrer", "Quiiiiiitter", "Ouvrir"])
    assert m["degenerate"] == 1 and m["degenerate_examples"][0]["source"] == "Quit"
    assert set(m["by_origin"]) == {"a", "b"} and m["by_origin"]["b"]["sentences"] == 2
    assert m["by_origin"]["a"]["chrf"] > m["by_origin"]["b"]["chrf"]
    plain = [{"source": "Save", "target": "Enregistrer"}]
    assert "by_origin" not in translation_metrics(plain, ["Enregistrer"])
