"""File names for File > Export labels: the suggested name and the chosen name's extension.

Pure string logic (no dialog), so it is tested without Qt.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from medsam_gui.io.atomic import full_suffix
from medsam_gui.io.image2d import PICTURE_SUFFIXES
from medsam_gui.io.itk_reader import ITK_SUFFIXES
from medsam_gui.io.labelmap_export import LABELMAP_SUFFIXES

SCAN_SUFFIXES = (*ITK_SUFFIXES, *PICTURE_SUFFIXES, ".dcm")  # dropped from a scan's file name


def filter_suffix(file_filter: str) -> str:
    """The extension of a dialog filter: 'NIfTI labelmap (*.nii.gz)' -> '.nii.gz' ('' if none)."""
    match = re.search(r"\(\*(\.[^)\s]+)\)", file_filter)
    return match.group(1).lower() if match else ""


def export_path_for(path: str, selected_filter: str, filters: Iterable[str]) -> str:
    """``path`` with the selected filter's extension added when it has none of the
    extensions that ``filters`` (or a labelmap format) name: 'liver' -> 'liver.nii.gz'."""
    known = {*LABELMAP_SUFFIXES, *(filter_suffix(file_filter) for file_filter in filters)} - {""}
    if full_suffix(path) in known:
        return path
    return path + filter_suffix(selected_filter)


def case_name(description: str, source_path: str) -> str:
    """What the case is called: the volume's description, else its file or folder name;
    without a scan extension ('ct.nii.gz' -> 'ct')."""
    name = description or os.path.basename(source_path.rstrip("/\\"))
    suffix = full_suffix(name)
    return name[: -len(suffix)] if suffix in SCAN_SUFFIXES else name


def suggested_export_name(case: str, label_name: str, suffix: str) -> str:
    """'<case>_<label><suffix>' with anything but letters, digits, '.', '-' and '_' made
    a '-': ('CT_abdomen', 'label 1', '.nii.gz') -> 'CT_abdomen_label-1.nii.gz'."""
    parts = [re.sub(r"[^\w.-]+", "-", part).strip("-.") for part in (case, label_name)]
    return ("_".join(part for part in parts if part) or "labels") + suffix
