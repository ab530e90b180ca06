"""Plain data for Help > About and the installers: what the app is, whose work it ships.

The model actually in use (with its device) comes from the engine at run time
(``ModelInfo``); where each known model's weights come from and under which licence
they may be redistributed is the model catalogue's (:mod:`medsam_gui.core.model_catalogue`),
which ``medsam-gui models`` reads too.
"""

from __future__ import annotations

from medsam_gui import __version__
from medsam_gui.core.model_catalogue import MODEL_CATALOGUE, model_card

APP_NAME = "MedSAM GUI"
APP_ID = "medsam-gui"
APP_VERSION = __version__
APP_LICENCE = "GPL-3.0-or-later"
APP_DESCRIPTION = "Segment CT and MR scans with MedSAM / LiteMedSAM: box, click, correct, carry through the volume, export."
NOT_FOR_DIAGNOSIS = "Research software: not a medical device, not for diagnosis."


# Third-party software inside the desktop package, with its licence (for the About box).
BUNDLED_SOFTWARE: tuple[tuple[str, str], ...] = (
    ("Qt 6 / PyQt6", "GPL-3.0 (Riverbank Computing, The Qt Company)"),
    ("PyTorch", "BSD-3-Clause"),
    ("transformers", "Apache-2.0"),
    ("pydicom, pylibjpeg", "MIT"),
    ("GDCM (python-gdcm)", "BSD-3-Clause"),
    ("SimpleITK", "Apache-2.0"),
    ("highdicom", "MIT"),
    ("NumPy, SciPy, Pillow", "BSD-3-Clause, BSD-3-Clause, MIT-CMU"),
)


def about_text(model_info=None) -> str:
    """Plain text for Help > About: version, licence, the model in use and its device,
    then every model of the catalogue with the licence of its weights.

    ``model_info`` is the engine's ModelInfo (name, display_name, device, licence,
    source), or None while no model is loaded yet.
    """
    lines = [f"{APP_NAME} {APP_VERSION}", APP_DESCRIPTION, f"Licence: {APP_LICENCE}", ""]
    if model_info is None:
        lines.append("Model: not loaded yet")
    else:
        card = model_card(model_info.name)
        lines += [
            f"Model: {model_info.display_name}",
            f"Device: {model_info.device}",
            f"Model licence: {model_info.licence or (card.licence if card else 'unknown')}",
            f"Weights: {model_info.source}",
        ]
        if card is not None:
            lines += [f"Model source: {card.source}", f"Cite: {card.citation}"]
    lines += ["", "Models this app knows (licence of the weights):"]
    lines += [f"  {card.display_name} [{card.name}]: {card.licence}" for card in MODEL_CATALOGUE.values()]
    lines += ["", NOT_FOR_DIAGNOSIS]
    return "\n".join(lines)
