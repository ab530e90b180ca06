"""One model catalogue: Help > About, ``medsam-gui models`` and the loaded backends
name the same models with the same licences."""

from __future__ import annotations

import json
import re

from medsam_gui.cli import main
from medsam_gui.core.app_info import about_text
from medsam_gui.core.model_catalogue import MODEL_CATALOGUE


def about_models(text: str) -> dict[str, tuple[str, str]]:
    """{name: (display name, licence)} from the About text's model list."""
    found = {}
    for line in text.splitlines():
        match = re.fullmatch(r"\s+(.+) \[(\w+)\]: (\S+)", line)
        if match:
            found[match[2]] = (match[1], match[3])
    return found


def test_about_box_and_models_command_name_the_same_models_and_licences(capsys):
    assert main(["models", "--json"]) == 0
    listed = {entry["name"]: (entry["display_name"], entry["licence"]) for entry in json.loads(capsys.readouterr().out)}
    assert about_models(about_text(None)) == listed
    assert set(listed) == set(MODEL_CATALOGUE) >= {"litemedsam", "medsam", "sam"}
    assert main(["models"]) == 0
    table = capsys.readouterr().out.splitlines()
    for name, (display_name, licence) in listed.items():
        row = next(line for line in table if line.startswith(f"{name} "))
        assert display_name in row and f" {licence} " in row


def test_the_loaded_model_reports_the_catalogue_name_and_licence(litemedsam_backend):
    card = MODEL_CATALOGUE["litemedsam"]
    info = litemedsam_backend.info
    assert (info.display_name, info.licence) == (card.display_name, card.licence)
    text = about_text(info)
    assert f"Model: {card.display_name}" in text and f"Model licence: {card.licence}" in text
    assert f"Cite: {card.citation}" in text
