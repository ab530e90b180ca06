"""Exported files get the permissions a plain open() gives: 0o666 less the umask
(not tempfile.mkstemp's 0o600, whatever the umask)."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from medsam_gui.core.labelmap import LabelTable
from medsam_gui.core.volume import Volume
from medsam_gui.io.atomic import atomic_write_bytes, atomic_write_text
from medsam_gui.io.itk_bridge import write_image
from medsam_gui.io.labelmap_export import write_labelmap


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    """Run the test under this process umask; the previous one is put back after."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_atomic_writes_honour_the_umask(tmp_path, umask):
    expected = 0o666 & ~umask
    assert _mode(atomic_write_bytes(tmp_path / "data.bin", b"\x00\x01")) == expected
    assert _mode(atomic_write_text(tmp_path / "notes.json", "{}")) == expected
    replaced = tmp_path / "old.txt"
    replaced.write_text("old")
    os.chmod(replaced, 0o600)
    assert _mode(atomic_write_text(replaced, "new")) == expected and replaced.read_text() == "new"
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []  # no temporary left


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_exported_images_and_labelmaps_honour_the_umask(tmp_path, umask):
    volume = Volume(np.zeros((2, 4, 5), dtype=np.int16))
    labels = np.zeros(volume.shape_zyx, dtype=np.uint8)
    labels[1, 1:3, 2:4] = 1
    expected = 0o666 & ~umask
    assert _mode(write_image(volume.voxels, like=volume, path=tmp_path / "scan.nrrd")) == expected
    written = write_labelmap(labels, volume, LabelTable(), tmp_path / "labels.nii.gz")
    assert len(written) == 3  # the labelmap and its two colour tables
    assert {path.name: _mode(path) for path in written} == {path.name: expected for path in written}
