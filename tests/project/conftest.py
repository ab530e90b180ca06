"""Fixtures of the project tests: a project built from links to real scans."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from project_helpers import SCHEMA_NAMES, build_images_folder  # noqa: E402

from medsam_gui.project import LabelSchema, Project  # noqa: E402


@pytest.fixture
def images_folder(tmp_path, data_root) -> Path:
    return build_images_folder(tmp_path, data_root)


@pytest.fixture
def project(tmp_path, images_folder) -> Project:
    """A fresh project of the 4 real scans (2 DICOM series, 1 NIfTI, 1 NRRD), opened as 'alice'."""
    created, _result = Project.create(
        tmp_path / "proj", images_folder, LabelSchema.from_names(SCHEMA_NAMES), name="livers", user="alice"
    )
    yield created
    created.release_all_locks()
