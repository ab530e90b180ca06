"""A DICOM SEG of a series without Study/Series UIDs gets invented ones, and says so:
the writer tells its caller, and the app's export puts it in the status bar."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest

from medsam_gui.core.document import Document
from medsam_gui.core.labelmap import Label, LabelTable
from medsam_gui.io.dicom_seg import write_dicom_seg
from medsam_gui.io.load import open_volume

INVENTED_UIDS_WARNING = (
    "the source series has no StudyInstanceUID and SeriesInstanceUID (anonymised?), so the DICOM SEG carries "
    "invented ones; a viewer or PACS may not link it to the scan"
)


def _square_on_slice(volume, slice_index: int) -> np.ndarray:
    """uint8 ``[z, y, x]``: label 1 in a 20 x 20 square of one slice."""
    labels = np.zeros(volume.shape_zyx, dtype=np.uint8)
    labels[slice_index, 200:220, 200:220] = 1
    return labels


@pytest.fixture(scope="module")
def anonymised_ct(data_root):
    """The TotalSegmentator CT: its files carry empty StudyInstanceUID and SeriesInstanceUID."""
    return open_volume(data_root / "totalseg" / "example_ct_dicom")


def test_seg_writer_reports_invented_uids_to_its_caller(anonymised_ct, tmp_path):
    reported = []
    table = LabelTable([Label(1, "liver", (200, 80, 60))])
    path = write_dicom_seg(_square_on_slice(anonymised_ct, 10), anonymised_ct, table, tmp_path / "seg.dcm",
                           on_warning=reported.append)
    assert reported == [INVENTED_UIDS_WARNING]
    segmentation = hd.seg.segread(path)
    assert segmentation.StudyInstanceUID  # invented, but present and the same for every referenced instance
    assert segmentation.ReferencedSeriesSequence[0].SeriesInstanceUID
    with pytest.warns(UserWarning, match="invented ones"):  # no callback: still not silent
        write_dicom_seg(_square_on_slice(anonymised_ct, 10), anonymised_ct, LabelTable(), tmp_path / "seg2.dcm")


def test_seg_of_a_series_with_uids_reports_nothing(data_root, tmp_path):
    volume = open_volume(data_root / "dcmqi" / "ct-3slice")
    reported = []
    write_dicom_seg(_square_on_slice(volume, 1), volume, LabelTable(), tmp_path / "seg.dcm", on_warning=reported.append)
    assert reported == []


class _CaseFilesStandIn:
    """What ``CaseFilesController.export_labels`` uses of its controller: the document and
    its two ways to tell the user (status bar, error dialog)."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.status_messages: list[str] = []
        self.errors: list[str] = []

    def _status(self, message: str, timeout_ms: int = 0) -> None:
        self.status_messages.append(message)

    def _show_error(self, message: str) -> None:
        self.errors.append(message)


def test_app_export_shows_the_seg_warning_in_the_status_bar(anonymised_ct, tmp_path):
    from medsam_gui.ui.case_files import CaseFilesController

    document = Document(anonymised_ct)
    document.replace_labels(_square_on_slice(anonymised_ct, 10), "test square")
    window = _CaseFilesStandIn(document)
    written = CaseFilesController.export_labels(window, str(tmp_path / "seg.dcm"))
    assert written == [tmp_path / "seg.dcm"] and window.errors == []
    assert window.status_messages == [f"Exported {tmp_path / 'seg.dcm'}. Warning: {INVENTED_UIDS_WARNING}"]
    CaseFilesController.export_labels(window, str(tmp_path / "labels.nii.gz"))
    assert window.status_messages[-1] == f"Exported {tmp_path / 'labels.nii.gz'} (+2 files)"
