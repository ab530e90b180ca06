"""The decoders upscale only the grid window a box's mask can reach
(engine/models/decoder_window.py): inside it the logits are the whole grid's, outside a
fill far below the threshold; a mask reaching the window's edge is decoded on the whole
grid; points and mask inputs always use the whole grid."""

from __future__ import annotations

import numpy as np
import pytest
from engine_testkit import box_of

from medsam_gui.engine.frame import ModelFrame
from medsam_gui.engine.models import decoder_window
from medsam_gui.engine.models.decoder_window import OUTSIDE_LOGIT, WINDOW_MARGIN_CELLS, GridWindow
from medsam_gui.engine.types import Prompts

LITE_FRAME = ModelFrame.longest_side((512, 512), 256, 256)  # half-size model input; a cell is 4 model pixels


def test_a_box_window_is_its_cells_plus_the_margin_clipped_to_the_grid():
    margin = WINDOW_MARGIN_CELLS
    # model pixels x 50..90, y 100..130: cells x 12..22, y 25..32
    window = GridWindow.for_prompts(LITE_FRAME, Prompts(box_xyxy=(100, 200, 180, 260)), 64)
    assert (window.col_start, window.col_stop, window.row_start, window.row_stop) == (
        12 - margin, 23 + margin, 25 - margin, 33 + margin)
    assert list(window.row_indices()) == list(range(25 - margin, 33 + margin))
    corner = GridWindow.for_prompts(LITE_FRAME, Prompts(box_xyxy=(490, 0, 511, 10)), 64)
    assert corner.row_start == 0 and corner.col_stop == 64 and not corner.is_whole


def test_points_and_mask_inputs_use_the_whole_grid():
    points = dict(points_xy=np.array([[150.0, 220.0]]), point_labels=np.array([1]))
    for prompts in (Prompts(**points), Prompts(box_xyxy=(100, 200, 180, 260), **points),
                    Prompts(box_xyxy=(100, 200, 180, 260), mask_logits=np.zeros((256, 256), np.float32))):
        assert GridWindow.for_prompts(LITE_FRAME, prompts, 64).is_whole


def test_paste_fills_around_the_window_and_the_edge_check_skips_the_grids_border():
    window = GridWindow(2, 5, 0, 3, 8)  # rows 2..4, columns 0..2: its left side is the grid's border
    values = np.random.default_rng(0).uniform(-9, -5, (12, 12)).astype(np.float32)
    pasted = window.paste(values)
    assert pasted.shape == (32, 32) and pasted.dtype == np.float32
    assert np.array_equal(pasted[8:20, :12], values)
    pasted[8:20, :12] = OUTSIDE_LOGIT
    assert (pasted == OUTSIDE_LOGIT).all()
    assert not window.reaches_edge(values, -3.0)
    values[6, 0] = 1.0  # on the grid's border: there is nothing beyond it
    assert not window.reaches_edge(values, -3.0)
    for row, col in ((0, 5), (11, 5), (6, 11)):  # top, bottom, right: the grid goes on there
        edged = values.copy()
        edged[row, col] = 1.0
        assert window.reaches_edge(edged, -3.0)
    whole = GridWindow.whole(8)
    assert whole.paste(pasted) is pasted and not whole.reaches_edge(np.ones((32, 32)), 0.0)


# -- on the bundled LiteMedSAM and a real CT slice -------------------------------------------


@pytest.fixture(scope="module")
def ct_slice(data_root, litemedsam_backend):
    """(embedding of slice 1 of the dcmqi CT, liver mask, spine mask) on that slice."""
    from medsam_gui.core.window import default_model_input_preset, resolve_model_input, to_model_input
    from medsam_gui.io.load import open_volume
    from medsam_gui.io.resample import resample_onto

    volume = open_volume(data_root / "dcmqi" / "ct-3slice")
    preset = resolve_model_input(default_model_input_preset(volume.voxels, volume.modality), volume.voxels)
    embedding = litemedsam_backend.encode(to_model_input(volume.slice(1), preset))
    masks = [resample_onto(volume, data_root / "dcmqi" / f"{organ}_seg.nrrd")[1] > 0 for organ in ("liver", "spine")]
    return embedding, *masks


def whole_grid_decode(backend, embedding, prompts, monkeypatch):
    """The backend's decode with a window as large as the grid."""
    with monkeypatch.context() as patch:
        patch.setattr(decoder_window, "WINDOW_MARGIN_CELLS", 64)
        return backend.decode(embedding, prompts)


@pytest.mark.slow
def test_a_small_boxs_logits_are_the_whole_grids_inside_its_window(litemedsam_backend, ct_slice, monkeypatch):
    embedding, _, spine = ct_slice
    prompts = Prompts(box_xyxy=box_of(spine))
    window = GridWindow.for_prompts(embedding.frame, prompts, 64)
    assert (window.row_stop - window.row_start) * (window.col_stop - window.col_start) < 0.2 * 64 * 64
    logits, score = litemedsam_backend.decode(embedding, prompts)
    whole, whole_score = whole_grid_decode(litemedsam_backend, embedding, prompts, monkeypatch)
    assert not (whole == OUTSIDE_LOGIT).any()
    inside = np.s_[4 * window.row_start:4 * window.row_stop, 4 * window.col_start:4 * window.col_stop]
    assert np.abs(logits[inside] - whole[inside]).max() < 1e-4
    outside = np.ones_like(logits, dtype=bool)
    outside[inside] = False
    assert (logits[outside] == OUTSIDE_LOGIT).all()
    threshold = litemedsam_backend.mask_threshold_logit
    assert (whole[inside] > threshold).any() and (whole[outside] < threshold).all()
    assert np.array_equal(litemedsam_backend.mask_from_logits(logits, embedding.frame, threshold),
                          litemedsam_backend.mask_from_logits(whole, embedding.frame, threshold))
    assert score == whole_score


@pytest.mark.slow
def test_a_mask_reaching_the_windows_edge_is_decoded_on_the_whole_grid(litemedsam_backend, ct_slice, monkeypatch):
    embedding, liver, _ = ct_slice
    prompts = Prompts(box_xyxy=box_of(liver))
    whole, _ = whole_grid_decode(litemedsam_backend, embedding, prompts, monkeypatch)
    monkeypatch.setattr(decoder_window, "WINDOW_MARGIN_CELLS", 0)  # the mask spills into the cells around the box
    window = GridWindow.for_prompts(embedding.frame, prompts, 64)
    window_part = whole[4 * window.row_start:4 * window.row_stop, 4 * window.col_start:4 * window.col_stop]
    assert not window.is_whole and window.reaches_edge(window_part, litemedsam_backend.mask_threshold_logit)
    logits, _ = litemedsam_backend.decode(embedding, prompts)
    assert not (logits == OUTSIDE_LOGIT).any()
    assert np.abs(logits - whole).max() < 1e-4


@pytest.mark.slow
def test_points_and_mask_inputs_are_decoded_on_the_whole_grid(litemedsam_backend, ct_slice, monkeypatch):
    embedding, liver, _ = ct_slice
    rows, cols = np.nonzero(liver)
    click = dict(points_xy=np.array([[cols.mean(), rows.mean()]]), point_labels=np.array([1]))
    box_logits, _ = litemedsam_backend.decode(embedding, Prompts(box_xyxy=box_of(liver)))
    for prompts in (Prompts(**click), Prompts(box_xyxy=box_of(liver), **click),
                    Prompts(box_xyxy=box_of(liver), mask_logits=box_logits)):
        logits, _ = litemedsam_backend.decode(embedding, prompts)
        assert not (logits == OUTSIDE_LOGIT).any()
        whole, _ = whole_grid_decode(litemedsam_backend, embedding, prompts, monkeypatch)
        assert np.array_equal(logits, whole)
