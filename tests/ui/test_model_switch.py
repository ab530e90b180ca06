"""Changing the model in the Model panel while the app runs (ModelSwitcher): the new
model segments the box on screen, the choice is kept for the next start; a model that
cannot be loaded leaves the one in use segmenting, and says why; Stop ends a download.

MedSAM ViT-B's weights cannot be downloaded here: its cache folder holds the tiny
random-weight SAM model instead, as if downloaded before (the same loading code).
"""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QMessageBox
from ui_helpers import ENCODE_TIMEOUT_MS, drag_on_canvas, make_window, open_and_wait

from medsam_gui.core.model_catalogue import MODEL_CATALOGUE
from medsam_gui.engine.headless import predict_blocking
from medsam_gui.engine.models.download import model_folder
from medsam_gui.ui.model_switcher import saved_model_choice

BOX = (180, 200, 300, 320)


def choose(window, name: str) -> None:
    """Pick ``name`` in the panel's list, as a click on its item does."""
    combo = window.model_panel.choice_combo
    index = combo.findData(name)
    assert index >= 0, f"{name} is not offered"
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


@pytest.fixture
def offline(monkeypatch):
    """No network: a download from the Hugging Face Hub fails as it does offline (SAM's weights are not here)."""
    import huggingface_hub

    def unreachable(**kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)


@pytest.fixture
def window(qtbot, engine, monkeypatch):
    window = make_window(qtbot, engine, monkeypatch)
    yield window
    window.close()


@pytest.mark.slow
def test_choosing_medsam_switches_the_running_app_and_the_box_on_screen_is_segmented_again(
        qtbot, window, engine, tiny_sam_folder, ct_folder):
    shutil.copytree(tiny_sam_folder, model_folder(MODEL_CATALOGUE["medsam"].repo_id))
    document = open_and_wait(qtbot, window, ct_folder)
    drag_on_canvas(window, BOX[:2], BOX[2:])
    prompts = window.prompts
    qtbot.waitUntil(lambda: prompts.preview is not None, timeout=ENCODE_TIMEOUT_MS)
    first = prompts.preview
    old_encoder, old_decoder = window.encoder, window.decoder

    choose(window, "medsam")
    assert window.engine is engine  # the model in use answers until the new one is ready
    qtbot.waitUntil(lambda: window.engine is not engine, timeout=180_000)
    new_engine = window.engine
    assert new_engine.model_info.name == "medsam"
    assert window.model_panel.device_label.text() == new_engine.model_info.device
    assert window.model_label.text() == f"{new_engine.model_info.display_name} on {new_engine.model_info.device}"
    assert window.model_panel.choice_combo.currentData() == "medsam"
    assert saved_model_choice() == "medsam"
    qtbot.waitUntil(lambda: old_encoder.isFinished() and old_decoder.isFinished(), timeout=ENCODE_TIMEOUT_MS)

    # the box on screen is decoded again, by the new model
    qtbot.waitUntil(lambda: prompts.preview is not first and prompts.preview is not None, timeout=ENCODE_TIMEOUT_MS)
    expected = predict_blocking(new_engine, document.slice_index, box_xyxy=BOX)
    assert np.array_equal(prompts.preview.mask, expected.mask)
    assert not np.array_equal(prompts.preview.mask, first.mask)

    window.model_panel.show_choice("litemedsam")  # the same model again: nothing reloads
    choose(window, "medsam")
    assert not window.model_switcher.loading


@pytest.mark.slow
def test_a_model_that_cannot_be_loaded_leaves_the_one_in_use_segmenting(qtbot, window, engine, ct_folder, offline):
    document = open_and_wait(qtbot, window, ct_folder)
    choose(window, "sam")
    qtbot.waitUntil(lambda: not window.model_switcher.loading, timeout=60_000)
    box = window.findChild(QMessageBox, "error_box")
    assert box is not None and box.isVisible()
    assert "facebook/sam-vit-base" in box.text() and "Still segmenting with LiteMedSAM" in box.text()
    assert window.engine is engine and window.model_panel.choice_combo.currentData() == "litemedsam"
    assert saved_model_choice() == "litemedsam"
    drag_on_canvas(window, BOX[:2], BOX[2:])
    qtbot.waitUntil(lambda: window.prompts.preview is not None, timeout=ENCODE_TIMEOUT_MS)
    assert window.prompts.preview.mask.any() and window.prompts.preview.slice_index == document.slice_index


@pytest.mark.slow
def test_stop_ends_a_download_and_the_model_in_use_goes_on(qtbot, window, engine, monkeypatch):
    import huggingface_hub

    fetched = []  # megabytes "downloaded" before the download ended, and how it ended

    def slow_download(**kwargs):
        bar = kwargs["tqdm_class"](total=375 * 2**20, unit="B")
        try:
            for _ in range(6000):  # 10 minutes at most
                bar.update(2**20)
                fetched.append(1)
                time.sleep(0.1)
        except Exception as error:
            fetched.append(error)
            raise

    monkeypatch.setattr(huggingface_hub, "snapshot_download", slow_download)
    choose(window, "sam")
    qtbot.waitUntil(lambda: "Downloading the model, once (" in window.model_label.text(), timeout=60_000)
    assert window.model_panel.stop_loading_button.isVisible()
    loader = window.model_switcher._loaders[-1]
    qtbot.mouseClick(window.model_panel.stop_loading_button, Qt.MouseButton.LeftButton)
    assert not window.model_switcher.loading and not window.model_panel.stop_loading_button.isVisible()
    assert window.engine is engine and window.model_panel.choice_combo.currentData() == "litemedsam"
    assert window.model_label.text().startswith("LiteMedSAM")
    qtbot.waitUntil(loader.isFinished, timeout=60_000)
    assert isinstance(fetched[-1], Exception) and "cancelled" in str(fetched[-1])
    assert len(fetched) < 6000
    assert window.findChild(QMessageBox, "error_box") is None  # a stop the user asked for is no error
    assert saved_model_choice() == "litemedsam"


@pytest.mark.slow
def test_a_model_folder_chosen_through_other_is_used_and_kept(qtbot, window, engine, tiny_sam_folder, monkeypatch):
    from PyQt6.QtWidgets import QFileDialog

    from medsam_gui.ui.panels.model import OTHER_MODEL

    asked = []

    def choose_config(*args, **kwargs):
        asked.append(args[1])
        return str(tiny_sam_folder / "config.json"), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", choose_config)
    choose(window, OTHER_MODEL)
    assert asked == ["Choose a MedSAM / SAM model"]
    qtbot.waitUntil(lambda: window.engine is not engine, timeout=180_000)
    assert window.engine.model_info.source == str(tiny_sam_folder)
    combo = window.model_panel.choice_combo
    assert combo.currentData() == str(tiny_sam_folder) and combo.currentText() == tiny_sam_folder.name
    assert combo.itemData(combo.count() - 1) == OTHER_MODEL  # "Other..." stays the last row
    assert saved_model_choice() == str(tiny_sam_folder)
    # a cancelled file dialog changes nothing
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: ("", ""))
    in_use = window.engine
    choose(window, OTHER_MODEL)
    assert not window.model_switcher.loading and window.engine is in_use
    assert combo.currentData() == str(tiny_sam_folder)


@pytest.mark.slow
def test_a_saved_model_that_cannot_load_at_start_up_falls_back_to_litemedsam(qtbot, monkeypatch, offline):
    from medsam_gui.ui.model_switcher import SETTINGS_KEY
    from medsam_gui.ui.panels.model import settings

    store = settings()
    store.setValue(SETTINGS_KEY, "sam")
    store.sync()
    window = make_window(qtbot, None, monkeypatch)  # loads the saved choice, as the app's start does
    try:
        qtbot.waitUntil(lambda: window.engine is not None, timeout=180_000)
        assert window.engine.model_info.name == "litemedsam"
        box = window.findChild(QMessageBox, "error_box")
        assert box is not None and "facebook/sam-vit-base" in box.text()
        assert "Loading LiteMedSAM (bundled) instead" in box.text()
        assert window.model_panel.choice_combo.currentData() == "litemedsam" and saved_model_choice() == "litemedsam"
    finally:
        window.close()
