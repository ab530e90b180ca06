"""A DICOM folder whose second series has no SeriesInstanceUID: that series gets the
identifier ``no-series-uid``, listed by ``info`` and the series chooser and taken by
``--series`` / ``open_volume`` like a UID."""

from __future__ import annotations

import json

import pydicom
import pytest

from medsam_gui.cli import main
from medsam_gui.core.errors import AmbiguousSeriesError, UnreadableInputError
from medsam_gui.io.load import list_series, open_volume


@pytest.fixture
def folder_with_a_series_without_uid(data_root, tmp_path):
    """tmp folder: the 3 dcmqi CT slices (with UIDs) and the 4 slices of a real MR
    series whose SeriesInstanceUID was deleted. Returns (folder, CT SeriesInstanceUID)."""
    folder = tmp_path / "two_series"
    folder.mkdir()
    ct_uids = set()
    for source in sorted((data_root / "dcmqi" / "ct-3slice").glob("*.dcm")):
        dataset = pydicom.dcmread(source)
        ct_uids.add(str(dataset.SeriesInstanceUID))
        dataset.save_as(folder / f"ct_{source.name}")
    for source in sorted((data_root / "dicom2nifti" / "generic" / "anatomical" / "001").glob("*.dcm")):
        dataset = pydicom.dcmread(source)
        del dataset.SeriesInstanceUID
        dataset.save_as(folder / f"mr_{source.name}")
    (ct_uid,) = ct_uids
    return folder, ct_uid


def test_series_without_uid_is_listed_and_opened_by_its_identifier(folder_with_a_series_without_uid):
    folder, ct_uid = folder_with_a_series_without_uid
    series = {info.series_id: info for info in list_series(folder)}
    assert set(series) == {ct_uid, "no-series-uid"}
    assert series["no-series-uid"].series_instance_uid == "" and series["no-series-uid"].file_count == 4
    assert series[ct_uid].series_instance_uid == ct_uid
    with pytest.raises(AmbiguousSeriesError, match="no-series-uid for the files without one"):
        open_volume(folder)
    mr = open_volume(folder, series_uid="no-series-uid")
    assert mr.modality == "MR" and mr.size_xyz == (4, 256, 256) and mr.dicom.series_instance_uid == ""  # sagittal
    assert open_volume(folder, series_uid=ct_uid).size_xyz == (512, 512, 3)
    # a session stores the (empty) SeriesInstanceUID of what it opened; that still finds the series
    assert open_volume(folder, series_uid=mr.dicom.series_instance_uid).same_grid(mr)


def test_unknown_series_names_the_identifiers_found(folder_with_a_series_without_uid):
    folder, ct_uid = folder_with_a_series_without_uid
    with pytest.raises(UnreadableInputError) as error:
        open_volume(folder, series_uid="1.2.3")
    assert str(error.value).startswith(str(folder)) and "no series with SeriesInstanceUID 1.2.3" in str(error.value)
    assert ct_uid in str(error.value) and "no-series-uid" in str(error.value)
    only_ct = folder.parent / "only_ct"
    only_ct.mkdir()
    for path in folder.glob("ct_*.dcm"):
        path.rename(only_ct / path.name)
    with pytest.raises(UnreadableInputError, match="no series without a SeriesInstanceUID"):
        open_volume(only_ct, series_uid="no-series-uid")


def test_info_lists_the_identifier_that_series_takes(folder_with_a_series_without_uid, capsys):
    folder, ct_uid = folder_with_a_series_without_uid
    assert main(["info", str(folder)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert any(line.startswith("  no-series-uid  MR ") for line in listing)
    assert any(line.startswith(f"  {ct_uid}  CT ") for line in listing)
    assert main(["info", str(folder), "--json"]) == 0
    listed = {entry["series_id"]: entry for entry in json.loads(capsys.readouterr().out)["series"]}
    assert listed["no-series-uid"]["series_instance_uid"] == "" and listed[ct_uid]["series_instance_uid"] == ct_uid
    assert main(["info", str(folder), "--series", "no-series-uid", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["modality"] == "MR" and described["size_xyz"] == [4, 256, 256]


def test_series_chooser_returns_the_identifier_of_the_series_without_uid(qtbot, folder_with_a_series_without_uid):
    from medsam_gui.ui.dialogs import SeriesChooser

    folder, ct_uid = folder_with_a_series_without_uid
    chooser = SeriesChooser(str(folder), list_series(folder))
    qtbot.addWidget(chooser)
    shown = [chooser.table.item(row, 3).text() for row in range(chooser.table.rowCount())]
    assert sorted(shown) == sorted([ct_uid, "no-series-uid"])
    chooser.table.selectRow(shown.index("no-series-uid"))
    assert chooser.chosen_uid == "no-series-uid"
    assert open_volume(folder, series_uid=chooser.chosen_uid).modality == "MR"
