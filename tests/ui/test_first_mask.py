"""From opening a CT to its first mask in the real window (issue 14), with the real
LiteMedSAM on the real 20-slice TotalSegmentator CT: the encoder starts on the slice on
screen, and a small box drawn while that slice is encoding gets its zoomed mask at once,
its ROI crop encoded between the blocks of that slice's pass, which then goes on (it is
not started again)."""

from __future__ import annotations

import numpy as np
import pytest
from engine_testkit import dice
from PyQt6.QtCore import Qt
from ui_helpers import ENCODE_TIMEOUT_MS, drag_on_canvas, make_window, open_and_wait, press_key

from medsam_gui.io.resample import resample_onto

SPLEEN = 1  # TotalSegmentator label value
BOX_MARGIN = 4


def test_opening_a_scan_draws_its_slice_once(qtbot, monkeypatch, data_root):
    """The UI thread draws the slice on screen once on opening (it is the work between the
    volume read and the first paint), and the whole slice is in view."""
    window = make_window(qtbot, None, monkeypatch, load_model=False)
    view = window.view
    drawn = []
    set_image = view.set_image
    monkeypatch.setattr(view, "set_image", lambda *args: (drawn.append(args), set_image(*args)))
    open_and_wait(qtbot, window, data_root / "totalseg" / "example_ct_sm.nii.gz")
    assert len(drawn) == 1
    image_rect = view.mapFromScene(view.image_item.sceneBoundingRect()).boundingRect()
    assert view.viewport().rect().adjusted(-1, -1, 1, 1).contains(image_rect)
    window.close()


@pytest.mark.slow
def test_a_small_box_drawn_while_the_slice_on_screen_encodes_gets_its_zoomed_mask_first(qtbot, window, data_root):
    engine = window.engine
    announced = []  # (slice, whole slice encoded at that moment), noted in the encoder thread as it announces
    window.encoder.embedding_ready.connect(lambda index, *_: announced.append((index, engine.is_encoded(index))),
                                           type=Qt.ConnectionType.DirectConnection)
    document = open_and_wait(qtbot, window, data_root / "totalseg" / "example_ct_dicom")
    on_screen = document.slice_index
    qtbot.waitUntil(lambda: engine.scheduler.in_flight() is not None, timeout=ENCODE_TIMEOUT_MS)
    assert engine.scheduler.in_flight() == ("axial", on_screen, None)  # the first pass: the slice on screen

    spleen = resample_onto(document.volume, data_root / "totalseg" / "example_seg_dicom.nii.gz")[on_screen] == SPLEEN
    rows, columns = np.flatnonzero(spleen.any(axis=1)), np.flatnonzero(spleen.any(axis=0))
    box = (columns[0] - BOX_MARGIN, rows[0] - BOX_MARGIN, columns[-1] + BOX_MARGIN, rows[-1] + BOX_MARGIN)
    drag_on_canvas(window, box[:2], box[2:])  # while that pass runs
    prompts = window.prompts
    qtbot.waitUntil(lambda: prompts.preview is not None and prompts.preview.box_xyxy == prompts.box_xyxy,
                    timeout=ENCODE_TIMEOUT_MS)

    assert prompts.preview.used_roi_zoom
    assert announced[0] == (on_screen, False)  # the crop came first, the slice's own pass still running
    qtbot.waitUntil(lambda: engine.is_encoded(on_screen), timeout=ENCODE_TIMEOUT_MS)  # that pass went on to its end
    press_key(window, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: document.labels[on_screen].any())
    assert dice(document.labels[on_screen] == document.active_label, spleen) > 0.9
