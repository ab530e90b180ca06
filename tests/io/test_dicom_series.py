"""DICOM series: sorting, gaps, gantry tilt, enhanced multi-frame consistency, series choice."""

import shutil

import numpy as np
import pydicom
import pytest

from medsam_gui.core.errors import AmbiguousSeriesError, UnreadableInputError
from medsam_gui.io.load import list_series, open_volume


def _copy_series(source_folder, target_folder, keep=None):
    target_folder.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in source_folder.iterdir() if p.is_file())
    for index, path in enumerate(files):
        if keep is None or index in keep:
            shutil.copy(path, target_folder / f"renamed_{len(files) - index:03d}.dcm")
    return files


def test_slices_sorted_by_position_not_by_file_name(data_root, tmp_path):
    source = data_root / "totalseg" / "example_ct_dicom"
    _copy_series(source, tmp_path / "series")  # names now run backwards
    original = open_volume(source)
    renamed = open_volume(tmp_path / "series")
    assert np.array_equal(original.voxels, renamed.voxels)
    assert np.allclose(original.origin_xyz, renamed.origin_xyz)


def test_missing_slice_is_reported_with_positions(data_root, tmp_path):
    source = data_root / "totalseg" / "example_ct_dicom"
    kept = [i for i in range(20) if i != 7]
    _copy_series(source, tmp_path / "gap", keep=kept)
    volume = open_volume(tmp_path / "gap")
    assert volume.shape_zyx[0] == 19
    assert volume.spacing_xyz[2] == pytest.approx(2.0)
    uneven = [w for w in volume.warnings if "uneven slice spacing" in w]
    assert len(uneven) == 1 and "4.00 mm between slices 11 and 12 (at -782.50 and -778.50 mm)" in uneven[0]


def test_gantry_tilt_warns_and_keeps_physical_geometry(data_root):
    folder = data_root / "dicom2nifti" / "failing" / "gantrytilting" / "001"
    volume = open_volume(folder)
    assert any("gantry tilt of 14.0 degrees" in w for w in volume.warnings)
    files = sorted(folder.iterdir())
    datasets = [pydicom.dcmread(p) for p in files]
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in datasets])
    # the orthogonal grid's slices lie in the acquired planes: slice k contains position k
    normal = volume.direction[:, 2]
    plane_offsets = (positions - np.asarray(volume.origin_xyz)) @ normal
    assert np.allclose(plane_offsets, np.arange(4) * volume.spacing_xyz[2], atol=1e-3)
    # a pixel of the last acquired slice is found at its true patient position
    last = datasets[-1]
    row, column = 300, 250
    row_direction = np.array([float(v) for v in last.ImageOrientationPatient[:3]])
    column_direction = np.array([float(v) for v in last.ImageOrientationPatient[3:]])
    spacing = [float(v) for v in last.PixelSpacing]
    point = positions[-1] + column * spacing[1] * row_direction + row * spacing[0] * column_direction
    x, y, z = volume.physical_to_index(point)
    assert z == pytest.approx(3.0, abs=1e-6)
    expected_hu = float(last.pixel_array[row, column]) * float(last.RescaleSlope) + float(last.RescaleIntercept)
    # linear interpolation moved the value by at most the local pixel range
    assert abs(float(volume.voxels[3, int(round(y)), int(round(x))]) - expected_hu) <= np.ptp(last.pixel_array[row - 1 : row + 2, column - 1 : column + 2]) + 1e-3


def _philips_with_two_image_types(data_root, tmp_path):
    source = data_root / "dicom2nifti" / "philips_enhanced" / "anatomical" / "001" / "IM-0001-0170-0001.dcm"
    dataset = pydicom.dcmread(source)
    for frame in dataset.PerFrameFunctionalGroupsSequence[4:]:
        frame.MRImageFrameTypeSequence[0].FrameType = ["DERIVED", "PRIMARY", "PHASE", "NONE"]
        frame.PixelValueTransformationSequence[0].RescaleSlope = "2.5"
    path = tmp_path / "mixed.dcm"
    dataset.save_as(path)
    return source, path


def test_enhanced_file_with_mixed_frame_types_is_not_stacked_blindly(data_root, tmp_path):
    source, mixed = _philips_with_two_image_types(data_root, tmp_path)
    full = open_volume(source)
    volume = open_volume(mixed)
    assert sorted(volume.dicom.frame_numbers) == [1, 2, 3, 4]  # one consistent image type
    assert volume.source_grid.to_source(volume.voxels).shape == (4, 256, 256)
    assert len(volume.warnings) == 1
    assert "ORIGINAL\\PRIMARY\\T1\\NONE" in volume.warnings[0] and "4 frames of type DERIVED\\PRIMARY\\PHASE" in volume.warnings[0]
    # the frames kept are exactly the original frames (the sagittal stack is shown
    # axially, so frame order follows the file's own grid: SourceGrid maps back)
    kept_frames = volume.source_grid.to_source(volume.voxels)
    all_frames = full.source_grid.to_source(full.voxels)
    for index, frame_number in enumerate(volume.dicom.frame_numbers):
        assert np.array_equal(kept_frames[index], all_frames[full.dicom.frame_numbers.index(frame_number)])
    # and they sit where they sat in the full volume: same voxel, same patient point
    voxel_xyz = np.array([2, 20, 100])
    point = volume.index_to_physical(voxel_xyz)
    full_index = np.rint(full.physical_to_index(point)).astype(int)
    assert np.allclose(full.index_to_physical(full_index), point, atol=1e-3)
    assert volume.voxels[100, 20, 2] == full.voxels[full_index[2], full_index[1], full_index[0]]


def test_enhanced_frames_repeating_positions_are_refused(data_root, tmp_path):
    source = data_root / "dicom2nifti" / "siemens_multiframe" / "anatomical" / "001"
    path = next(source.iterdir())
    dataset = pydicom.dcmread(path)
    first_position = dataset.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0].ImagePositionPatient
    dataset.PerFrameFunctionalGroupsSequence[1].PlanePositionSequence[0].ImagePositionPatient = list(first_position)
    broken = tmp_path / "repeated.dcm"
    dataset.save_as(broken)
    with pytest.raises(UnreadableInputError, match="share a position") as error:
        open_volume(broken)
    assert str(broken) in str(error.value)


def test_enhanced_ct_per_frame_positions_and_rescale(data_root):
    volume = open_volume(data_root / "enhanced" / "eCT_Supplemental.dcm")
    assert volume.shape_zyx == (2, 512, 512) and volume.modality == "CT"
    assert volume.spacing_xyz == pytest.approx((0.388672, 0.388672, 10.0))
    assert volume.voxels.min() == -1024  # shared RescaleIntercept applied
    # IOP row direction is -x (patient right): display flips x so the direction is identity
    assert np.allclose(volume.direction, np.eye(3))
    assert volume.dicom.frame_numbers == (1, 2)


def test_folder_with_several_series_asks_for_a_choice(data_root):
    folder = data_root / "dicom2nifti" / "generic" / "anatomical"
    series = list_series(folder)
    assert len(series) == 3
    assert {s.size_xyz for s in series} == {(256, 256, 4), (64, 28, 4)}
    assert all(s.file_count == 4 and s.modality == "MR" for s in series)
    with pytest.raises(AmbiguousSeriesError) as error:
        open_volume(folder)
    assert [s.series_instance_uid for s in error.value.series] == [s.series_instance_uid for s in series]
    chosen = next(s for s in series if s.size_xyz == (64, 28, 4))
    volume = open_volume(folder, series_uid=chosen.series_instance_uid)
    assert volume.size_xyz == (64, 28, 4)
    with pytest.raises(UnreadableInputError, match="no series with SeriesInstanceUID 1.2.3"):
        open_volume(folder, series_uid="1.2.3")


def test_folder_skips_seg_objects_next_to_the_ct(data_root):
    series = list_series(data_root / "dcmqi")  # liver.dcm / partial_overlaps.dcm are SEG
    assert len(series) == 1 and series[0].size_xyz == (512, 512, 3)
    volume = open_volume(data_root / "dcmqi")
    assert volume.shape_zyx == (3, 512, 512) and volume.modality == "CT"


def test_pydicom_bundled_files(tmp_path):
    from pydicom.data import get_testdata_file

    ct = open_volume(get_testdata_file("CT_small.dcm"))
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    expected = dataset.pixel_array * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
    assert ct.shape_zyx == (1, 128, 128) and np.array_equal(ct.voxels[0], expected)
    rgb = open_volume(get_testdata_file("SC_rgb_rle.dcm"))
    assert rgb.is_rgb and rgb.voxels.dtype == np.uint8 and rgb.voxels.shape == (1, 100, 100, 3)
    assert np.array_equal(rgb.voxels[0], pydicom.dcmread(get_testdata_file("SC_rgb_rle.dcm")).pixel_array)
    mr = open_volume(get_testdata_file("MR_small_RLE.dcm"))
    assert np.array_equal(mr.voxels[0], pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array)
    assert mr.modality == "MR"
