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


# -- square-pixel resampling for the model (core/plane_resample.py) ----------------------

from medsam_gui.core.plane_resample import MAX_SIDE, SquarePixelGrid  # noqa: E402


def _rectangle(shape, rows, columns) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[rows[0]:rows[1] + 1, columns[0]:columns[1] + 1] = True
    return mask


@pytest.mark.parametrize("pixel_mm", [(5.0, 0.7), (0.7, 5.0), (3.0, 0.8), (0.8, 0.8)])
def test_square_grid_has_the_finer_pixel_and_the_physical_extent(pixel_mm):
    grid = SquarePixelGrid.for_pixels((20, 50), pixel_mm)
    target = min(pixel_mm)
    assert grid.shape == (round(20 * pixel_mm[0] / target), round(50 * pixel_mm[1] / target))
    row_mm, column_mm = 20 * pixel_mm[0] / grid.shape[0], 50 * pixel_mm[1] / grid.shape[1]
    assert row_mm == pytest.approx(column_mm, rel=0.05)  # square pixels


def test_square_grid_caps_the_longest_side():
    grid = SquarePixelGrid.for_pixels((300, 512), (5.0, 0.5))  # 1500 mm x 256 mm at 0.5 mm: 3000 rows
    assert max(grid.shape) == MAX_SIDE
    assert grid.shape[1] == round(MAX_SIDE * 256 / 1500)


def test_square_pixels_already_are_the_identity():
    grid = SquarePixelGrid.for_pixels((6, 7), (0.8, 0.8))
    image = np.arange(42, dtype=np.int16).reshape(6, 7)
    assert grid.is_identity and grid.resample_image(image) is image
    mask = image % 3 == 0
    assert np.array_equal(grid.mask_to_voxels(grid.resample_mask(mask)), mask)
    assert grid.box_to_resampled((1, 2, 4, 5)) == (1, 2, 4, 5)
    assert np.allclose(grid.points_to_resampled([[2.0, 3.0]]), [[2.0, 3.0]])


def test_axial_plane_with_square_pixels_resamples_to_itself():
    volume = _volume(shape_zyx=(10, 6, 7), spacing_xyz=(0.8, 0.8, 3.0))
    geometry = PlaneGeometry.of(volume, "axial")
    grid = SquarePixelGrid.for_pixels(geometry.image_shape, geometry.pixel_size_mm)
    image = geometry.take(volume.voxels, 4)
    assert np.array_equal(grid.resample_image(image), image)


@pytest.mark.parametrize("pixel_mm", [(5.0, 0.7), (0.7, 5.0), (2.5, 1.0)])
def test_voxel_aligned_rectangle_comes_back_exactly(pixel_mm):
    grid = SquarePixelGrid.for_pixels((20, 30), pixel_mm)
    assert not grid.is_identity
    for rows, columns in [((3, 11), (4, 25)), ((0, 19), (0, 0)), ((7, 7), (29, 29))]:
        mask = _rectangle((20, 30), rows, columns)
        resampled = grid.resample_mask(mask)
        assert resampled.shape == grid.shape
        assert np.array_equal(grid.mask_to_voxels(resampled), mask)
        # the box goes to exactly the resampled pixels of the mask
        x0, y0, x1, y1 = grid.box_to_resampled((columns[0], rows[0], columns[1], rows[1]))
        assert np.array_equal(resampled, _rectangle(grid.shape, (y0, y1), (x0, x1)))


def test_any_voxel_mask_round_trips_through_the_square_grid():
    rng = np.random.default_rng(4)
    grid = SquarePixelGrid.for_pixels((17, 23), (3.0, 0.7))
    mask = rng.random((17, 23)) > 0.6
    assert np.array_equal(grid.mask_to_voxels(grid.resample_mask(mask)), mask)


def test_image_interpolation_is_linear_and_keeps_the_extent():
    grid = SquarePixelGrid.for_pixels((4, 3), (2.0, 1.0))  # each row becomes two
    assert grid.shape == (8, 3)
    image = np.array([[0, 10, 20], [40, 50, 60], [80, 90, 100], [120, 130, 140]], dtype=np.int16)
    resampled = grid.resample_image(image)
    assert resampled.dtype == np.float32
    # resampled row centres at voxel rows -0.25, 0.25, 0.75, ...: clamped at the edges, linear inside
    assert np.allclose(resampled[:, 0], [0, 10, 30, 50, 70, 90, 110, 120])
    assert np.allclose(resampled[:, 1] - resampled[:, 0], 10)
    rgb = np.repeat(image[:, :, None], 3, axis=2)
    assert np.allclose(grid.resample_image(rgb)[..., 2], resampled)


def test_points_map_to_the_same_physical_place():
    grid = SquarePixelGrid.for_pixels((10, 40), (4.0, 1.0))  # rows x4
    points = grid.points_to_resampled([[5.0, 2.0], [0.0, 0.0]])
    # voxel row 2 spans resampled rows 8..11, its centre is at 9.5; columns unchanged
    assert np.allclose(points, [[5.0, 9.5], [0.0, 1.5]])


def test_a_box_thinner_than_a_resampled_pixel_still_covers_one():
    grid = SquarePixelGrid.for_pixels((2000, 40), (1.0, 5.0))  # capped: rows shrink below one resampled pixel
    assert grid.scale_yx[0] < 1
    x0, y0, x1, y1 = grid.box_to_resampled((3, 100, 5, 100))
    assert x0 <= x1 and y0 == y1


def test_coronal_slice_of_an_anisotropic_volume_gets_square_pixels():
    volume = _volume(shape_zyx=(10, 6, 7), spacing_xyz=(0.5, 0.5, 2.0))
    geometry = PlaneGeometry.of(volume, "coronal")
    grid = SquarePixelGrid.for_pixels(geometry.image_shape, geometry.pixel_size_mm)
    assert grid.shape == (40, 7)  # 10 rows of 2 mm -> 40 rows of 0.5 mm
    image = geometry.take(volume.voxels, 3)
    resampled = grid.resample_image(image)
    assert np.allclose(resampled[:, 2], np.interp((np.arange(40) + 0.5) / 4 - 0.5, np.arange(10), image[:, 2]))
