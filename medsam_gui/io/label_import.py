"""Import an existing labelmap onto the open scan, by geometry, with its names and colours.

NIfTI / NRRD / MHA files are resampled (nearest neighbour) onto the scan's display
grid by physical position, so a file with flipped or permuted axes lands on the right
voxels; names and colours come from a Slicer ``.ctbl`` or ITK-SNAP ``.label.txt``
sidecar when one is found. DICOM SEG files are placed frame by frame (see ``dicom_seg``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.core.labelmap import MAX_LABEL_VALUE, Label, LabelTable, default_label
from medsam_gui.core.volume import Volume
from medsam_gui.io.color_table import find_sidecar, read_color_table
from medsam_gui.io.dicom_seg import read_dicom_seg
from medsam_gui.io.resample import resample_onto


@dataclass
class ImportedLabels:
    """An imported labelmap on the scan's grid.

    Attributes:
        labels: uint8 ``[z, y, x]`` with the scan's shape.
        label_table: a name and colour for every value present.
        warnings: sentences for the user (e.g. values outside the file's colour table).
    """

    labels: np.ndarray
    label_table: LabelTable
    warnings: list[str] = field(default_factory=list)


def import_labels(path: str | Path, volume: Volume) -> ImportedLabels:
    """Read a labelmap file (NIfTI/NRRD/MHA or DICOM SEG) onto ``volume``'s grid.

    Raises:
        UnreadableInputError: unreadable file, non-integer or out-of-range values,
            or a labelmap that does not overlap the scan at all.
    """
    path = Path(path)
    if _is_dicom(path):
        labels, table = read_dicom_seg(path, volume)
        return ImportedLabels(labels, table)
    values = resample_onto(volume, path)
    labels = _as_label_values(values, path)
    present = [int(v) for v in np.unique(labels) if v != 0]
    if not present and np.any(values):
        raise UnreadableInputError("the labelmap does not overlap the open scan", path)
    sidecar = find_sidecar(path)
    file_table = read_color_table(sidecar) if sidecar else LabelTable()
    warnings = []
    if sidecar and any(value not in file_table for value in present):
        missing = [value for value in present if value not in file_table]
        warnings.append(f"values {missing} are not in {sidecar.name}; they got default names")
    entries = []
    for value in present:
        if value in file_table:
            entries.append(file_table.get(value))
        else:
            name, colour = default_label(value)
            entries.append(Label(value, name, colour))
    return ImportedLabels(labels, LabelTable(entries), warnings)


def _is_dicom(path: Path) -> bool:
    if path.suffix.lower() == ".dcm":
        return True
    if not path.is_file() or path.name.lower().endswith((".nii", ".nii.gz", ".nrrd", ".mha", ".mhd", ".nhdr")):
        return False
    try:
        pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"])
    except (pydicom.errors.InvalidDicomError, OSError):
        return False
    return True


def _as_label_values(values: np.ndarray, path: Path) -> np.ndarray:
    """uint8 labels from an integer (or integer-valued float) array; errors name the file."""
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            raise UnreadableInputError("the labelmap holds non-integer values (is it an image, not labels?)", path)
    if values.dtype.kind not in "uif":
        raise UnreadableInputError(f"labelmap voxels of type {values.dtype} are not label values", path)
    if values.size and (values.min() < 0 or values.max() > MAX_LABEL_VALUE):
        raise UnreadableInputError(
            f"label values must be 0..{MAX_LABEL_VALUE}, found {values.min()}..{values.max()}", path
        )
    return values.astype(np.uint8)
