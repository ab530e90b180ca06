"""The segmentation engine: model backends, embedding cache, encode scheduler and the
public :class:`Engine` (see ARCHITECTURE.md). Imports core only; torch lives in the
backends, loaded when a model is created."""

from medsam_gui.engine.predictor import Engine
from medsam_gui.engine.roi import RoiPolicy
from medsam_gui.engine.types import EmbeddingNotReady, EncodeResult, ModelInfo, Prediction


def list_models():
    """Known models with their weights location and availability (see engine.models)."""
    from medsam_gui.engine.models import list_models as _list_models

    return _list_models()


__all__ = ["Engine", "EmbeddingNotReady", "EncodeResult", "ModelInfo", "Prediction", "RoiPolicy", "list_models"]
