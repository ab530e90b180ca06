"""Session files: save the work on a case and open it again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsam_gui.core.document import Document
from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.io.load import open_volume
from medsam_gui.io.session import load_session, restore_into_document, save_session, state_from_document


@pytest.fixture()
def ct_document(data_root):
    return Document(open_volume(data_root / "totalseg" / "example_ct_sm.nii.gz"))


def test_session_round_trip_restores_labels_table_window_and_slice(ct_document, tmp_path):
    document = ct_document
    mask = np.zeros(document.labels.shape, dtype=bool)
    mask[3:9, 20:40, 30:70] = True
    document.paint_volume(mask)
    kidney = document.add_label("kidney left", (1, 2, 3))
    document.paint_slice(12, mask[4], value=kidney)
    document.label_table.update(kidney, visible=False)
    document.window_center, document.window_width, document.slice_index = -600.0, 1500.0, 12
    path = save_session(state_from_document(document), tmp_path / "case.medsam-session")

    reopened = Document(open_volume(load_session(path).scan_path))
    restore_into_document(reopened, load_session(path))
    np.testing.assert_array_equal(reopened.labels, document.labels)
    assert [(l.value, l.name, l.colour, l.visible) for l in reopened.label_table] == [
        (l.value, l.name, l.colour, l.visible) for l in document.label_table
    ]
    assert (reopened.window_center, reopened.window_width, reopened.slice_index) == (-600.0, 1500.0, 12)
    assert reopened.active_label == kidney
    assert not reopened.is_modified and not reopened.history.can_undo


def test_damaged_or_foreign_session_files_are_reported(ct_document, tmp_path):
    path = save_session(state_from_document(ct_document), tmp_path / "case.medsam-session")
    damaged = tmp_path / "damaged.medsam-session"
    damaged.write_bytes(path.read_bytes()[:200])
    with pytest.raises(UnreadableInputError, match="damaged.medsam-session"):
        load_session(damaged)
    foreign = tmp_path / "foreign.medsam-session"
    np.savez(foreign.open("wb"), labels=np.zeros((2, 2, 2), np.uint8), meta=np.array("{}"))
    with pytest.raises(UnreadableInputError, match="not a medsam-gui session"):
        load_session(foreign)
    small = Document(open_volume(Path(ct_document.volume.source_path)))
    state = load_session(path)
    state.labels = state.labels[:-1]
    with pytest.raises(UnreadableInputError, match="do not fit"):
        restore_into_document(small, state)
