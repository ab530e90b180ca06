"""Plane geometry without Qt: slices, pixel sizes, index mapping, and plane edits."""

from __future__ import annotations

import numpy as np
import pytest

from medsam_gui.core.document import Document
from medsam_gui.core.planes import PLANES, PlaneGeometry, offers_other_planes, plane_labels, plane_slice, slice_counts
from medsam_gui.core.volume import Volume


def _volume(shape_zyx=(10, 6, 7), spacing_xyz=(0.8, 0.7, 3.0), direction=None) -> Volume:
    voxels = np.arange(np.prod(shape_zyx), dtype=np.int16).reshape(shape_zyx)
    return Volume(voxels, spacing_xyz=spacing_xyz, direction=np.eye(3) if direction is None else direction, modality="CT")


def test_plane_slices_are_the_right_cuts_with_superior_on_top():
    volume = _volume()
    assert np.array_equal(plane_slice(volume, "axial", 4), volume.voxels[4])
    coronal = plane_slice(volume, "coronal", 2)
    assert coronal.shape == (10, 7)
    assert np.array_equal(coronal, volume.voxels[::-1, 2, :])  # top row = highest z = superior
    sagittal = plane_slice(volume, "sagittal", 5)
    assert sagittal.shape == (10, 6)
    assert np.array_equal(sagittal, volume.voxels[::-1, :, 5])
    assert slice_counts(volume.shape_zyx) == {"axial": 10, "coronal": 6, "sagittal": 7}


def test_z_pointing_inferior_keeps_row_order_so_up_is_still_superior():
    direction = np.diag([1.0, 1.0, -1.0])
    geometry = PlaneGeometry.of(_volume(direction=direction), "coronal")
    assert not geometry.flip_rows
    _right, down = geometry.screen_directions_lps()
    assert down[2] < 0  # screen down runs inferior


def test_anisotropic_pixel_sizes_per_plane():
    volume = _volume(spacing_xyz=(0.8, 0.7, 3.0))
    assert PlaneGeometry.of(volume, "axial").pixel_size_mm == (0.7, 0.8)
    assert PlaneGeometry.of(volume, "coronal").pixel_size_mm == (3.0, 0.8)
    assert PlaneGeometry.of(volume, "sagittal").pixel_size_mm == (3.0, 0.7)
    assert PlaneGeometry.of(volume, "coronal").row_aspect == pytest.approx(3.0 / 0.8)


def test_real_3mm_ct_has_3mm_rows_in_coronal_and_sagittal(data_root):
    from medsam_gui.io.load import open_volume

    volume = open_volume(data_root / "totalseg" / "example_ct_sm.nii.gz")
    sx, sy, sz = volume.spacing_xyz
    assert sz == pytest.approx(3.0, abs=0.01)
    coronal = PlaneGeometry.of(volume, "coronal")
    assert coronal.pixel_size_mm == (pytest.approx(sz), pytest.approx(sx))
    assert coronal.image_shape == (volume.shape_zyx[0], volume.shape_zyx[2])
    assert PlaneGeometry.of(volume, "sagittal").row_aspect == pytest.approx(sz / sy)
    # the top row of the coronal image is the most superior slice
    top = coronal.to_volume(0, 0, 0)
    bottom = coronal.to_volume(0, coronal.image_shape[0] - 1, 0)
    assert volume.index_to_physical(top[::-1])[2] > volume.index_to_physical(bottom[::-1])[2]


@pytest.mark.parametrize("plane", PLANES)
def test_index_mapping_round_trips_and_matches_the_image(plane):
    volume = _volume()
    geometry = PlaneGeometry.of(volume, plane)
    rng = np.random.default_rng(0)
    for _ in range(50):
        zyx = tuple(int(rng.integers(0, n)) for n in volume.shape_zyx)
        index, row, column = geometry.from_volume(*zyx)
        assert geometry.to_volume(index, row, column) == zyx
        assert geometry.take(volume.voxels, index)[row, column] == volume.voxels[zyx]


def test_screen_directions_of_each_plane():
    volume = _volume()
    right, down = PlaneGeometry.of(volume, "sagittal").screen_directions_lps()
    assert np.allclose(right, [0, 1, 0]) and np.allclose(down, [0, 0, -1])  # P to the right, I down
    right, down = PlaneGeometry.of(volume, "coronal").screen_directions_lps()
    assert np.allclose(right, [1, 0, 0]) and np.allclose(down, [0, 0, -1])


def test_paint_plane_changes_one_sagittal_slice_and_is_one_undo_step():
    document = Document(_volume())
    changes = []
    document.add_change_listener(changes.append)
    axial_mask = np.zeros((6, 7), dtype=bool)
    axial_mask[1:3, 1:6] = True
    assert document.paint_slice(3, axial_mask)
    sagittal_mask = np.zeros((10, 6), dtype=bool)
    sagittal_mask[0:4, 2:5] = True  # rows 0-3 = the 4 most superior slices
    before = document.labels.copy()
    assert document.paint_plane("sagittal", 4, sagittal_mask, description="brush")
    changed = np.argwhere(document.labels != before)
    assert set(changed[:, 2]) == {4}  # only x = 4
    assert set(changed[:, 0]) == {6, 7, 8, 9} and set(changed[:, 1]) == {2, 3, 4}
    earlier = plane_labels(before, document.volume, "sagittal", 4) != 0  # the axial edit crosses x = 4
    assert np.array_equal(plane_labels(document.labels, document.volume, "sagittal", 4) != 0, sagittal_mask | earlier)
    assert len(changes) == 2 and changes[-1].writes[0][0].box_zyx == (6, 10, 2, 5, 4, 5)  # journaled
    document.undo()
    assert np.array_equal(document.labels, before)
    document.undo()
    assert document.labels.max() == 0


def test_paint_plane_erase_and_replace_modes_on_coronal():
    document = Document(_volume())
    full = np.ones((10, 7), dtype=bool)
    document.paint_plane("coronal", 2, full)
    assert (document.labels[:, 2, :] == 1).all() and document.labels.sum() == 70
    small = np.zeros((10, 7), dtype=bool)
    small[4:6, 1:3] = True
    document.paint_plane("coronal", 2, small, mode="replace")
    assert document.labels.sum() == 4
    document.paint_plane("coronal", 2, full, value=0, mode="erase")
    assert document.labels.max() == 0
    with pytest.raises(ValueError):
        document.paint_plane("coronal", 2, np.ones((7, 10), dtype=bool))


def test_cursor_is_announced_clamped_and_drives_the_axial_slice():
    document = Document(_volume())
    heard = []
    document.add_cursor_listener(lambda previous, now: heard.append((previous, now)))
    assert document.cursor_zyx == (5, 3, 3) and document.slice_index == 5
    assert document.set_cursor((99, 1, -4))
    assert document.cursor_zyx == (9, 1, 0) and document.slice_index == 9
    assert not document.set_cursor((9, 1, 0))  # no move, no announcement
    document.slice_index = 2
    assert document.cursor_zyx == (2, 1, 0)
    assert heard == [((5, 3, 3), (9, 1, 0)), ((9, 1, 0), (2, 1, 0))]
    assert document.plane_index("coronal") == 1 and document.plane_index("sagittal") == 0


def test_other_planes_are_offered_from_8_slices():
    assert not offers_other_planes((7, 512, 512)) and offers_other_planes((8, 512, 512))
