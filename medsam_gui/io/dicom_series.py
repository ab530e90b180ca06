"""Read one DICOM series (classic single-frame files, or one multi-frame file).

The slices of a series are sorted along the slice normal, rescaled per slice to
original units (HU for CT), stacked, corrected for gantry tilt and put into the
canonical display orientation.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.core.volume import DicomReference, Volume
from medsam_gui.io.dicom_geometry import StackGeometry, stack_geometry, untilt_slices
from medsam_gui.io.dicom_multiframe import read_multiframe
from medsam_gui.io.dicom_pixels import compact_dtype, decode_frames, rescale, rescale_of, window_of
from medsam_gui.io.dicom_scan import DicomHeader
from medsam_gui.io.volume_builder import build_volume

DECODER_THREADS = min(4, os.cpu_count() or 1)


def _consistency_key(header: DicomHeader) -> tuple:
    dataset = header.dataset
    orientation = dataset.get("ImageOrientationPatient", None)
    orientation_key = tuple(round(float(v), 3) for v in orientation) if orientation else None
    return (int(dataset.Rows), int(dataset.Columns), int(dataset.get("SamplesPerPixel", 1) or 1), orientation_key)


def _consistent_subset(headers: list[DicomHeader]) -> tuple[list[DicomHeader], list[str]]:
    """The largest group of slices with one size and orientation, and a warning if others were left out."""
    groups: dict[tuple, list[DicomHeader]] = {}
    for header in headers:
        groups.setdefault(_consistency_key(header), []).append(header)
    if len(groups) == 1:
        return headers, []
    chosen = max(groups.values(), key=len)
    left_out = len(headers) - len(chosen)
    return chosen, [
        f"{left_out} of {len(headers)} files of this series have another size or orientation "
        f"(localizers?) and were left out"
    ]


def read_series(headers: list[DicomHeader], source_path: str) -> Volume:
    """Volume of one series from its headers (all with the same SeriesInstanceUID)."""
    multiframe = [h for h in headers if h.number_of_frames > 1 or "PerFrameFunctionalGroupsSequence" in h.dataset]
    if multiframe:
        if len(headers) > 1:
            largest = max(multiframe, key=lambda h: h.number_of_frames)
            volume = read_multiframe(largest.path)
            volume.warnings.append(
                f"the series holds {len(headers)} files including multi-frame ones; only "
                f"{Path(largest.path).name} ({largest.number_of_frames} frames) is shown"
            )
            return volume
        return read_multiframe(headers[0].path)
    headers, warnings = _consistent_subset(headers)
    first = headers[0].dataset
    has_geometry = all("ImagePositionPatient" in h.dataset and "ImageOrientationPatient" in h.dataset for h in headers)
    pixel_spacing = first.get("PixelSpacing", None) or first.get("ImagerPixelSpacing", None) or [1.0, 1.0]
    fallback_spacing = float(first.get("SpacingBetweenSlices", None) or first.get("SliceThickness", None) or 1.0)
    if has_geometry:
        positions = np.array([[float(v) for v in h.dataset.ImagePositionPatient] for h in headers])
        geometry = stack_geometry(positions, first.ImageOrientationPatient, pixel_spacing, source_path, fallback_spacing)
    else:
        geometry = _geometry_without_position(headers, pixel_spacing, fallback_spacing, source_path)
    warnings.extend(geometry.warnings)
    missing_uids = [name for name in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID") if not first.get(name, "")]
    if missing_uids:
        warnings.append(f"the files carry no {' or '.join(missing_uids)} (anonymised?): a DICOM SEG cannot refer to them")
    sorted_headers = [headers[i] for i in geometry.order]
    voxels = _stack_pixels(sorted_headers)
    if geometry.in_plane_shift_px is not None:
        voxels = compact_dtype(untilt_slices(voxels, geometry.in_plane_shift_px))
    dicom = DicomReference(
        study_instance_uid=str(first.get("StudyInstanceUID", "")),
        series_instance_uid=str(first.get("SeriesInstanceUID", "")),
        frame_of_reference_uid=str(first.get("FrameOfReferenceUID", "")),
        sop_class_uid=str(first.get("SOPClassUID", "")),
        sop_instance_uids=tuple(str(h.dataset.get("SOPInstanceUID", "")) for h in sorted_headers),
        file_paths=tuple(h.path for h in sorted_headers),
    )
    return build_volume(
        voxels,
        geometry.spacing_xyz,
        geometry.origin_xyz,
        geometry.direction,
        source_path=source_path,
        modality=str(first.get("Modality", "OT") or "OT"),
        default_window=window_of(first),
        dicom=dicom,
        warnings=warnings,
        description=str(first.get("SeriesDescription", "") or Path(source_path).name),
    )


def _slice_values(header: DicomHeader) -> np.ndarray:
    """One slice in original units ``[y, x]`` float32, or ``[y, x, 3]`` uint8 (RGB)."""
    decoded = decode_frames(header.path)
    frame = decoded.frames[0]
    if frame.ndim == 3:  # RGB
        return frame
    if decoded.already_rescaled:
        return frame.astype(np.float32)
    slope, intercept = rescale_of(decoded.dataset)
    return rescale(frame, slope, intercept)


def _geometry_without_position(headers, pixel_spacing, fallback_spacing, source_path):
    """Stack order by InstanceNumber when the files carry no patient position."""
    order = sorted(range(len(headers)), key=lambda i: int(headers[i].dataset.get("InstanceNumber", i) or i))
    warnings = []
    if len(headers) > 1:
        warnings.append(
            "the files carry no patient position/orientation: slices are ordered by InstanceNumber "
            f"and {fallback_spacing:g} mm apart, with an identity direction"
        )
    spacing = (float(pixel_spacing[1]), float(pixel_spacing[0]), fallback_spacing)
    return StackGeometry(order, spacing, (0.0, 0.0, 0.0), np.eye(3), None, warnings)


def _stack_pixels(sorted_headers: list[DicomHeader]) -> np.ndarray:
    """Decode and rescale every slice; ``[z, y, x]`` compact dtype or ``[z, y, x, 3]`` uint8.
    Slices decode on :data:`DECODER_THREADS` threads (compressed frames release the GIL)."""
    with ThreadPoolExecutor(DECODER_THREADS, thread_name_prefix="dicom-decode") as pool:
        slices = list(pool.map(_slice_values, sorted_headers))
    shapes = {s.shape for s in slices}
    if len(shapes) != 1:
        raise UnreadableInputError(f"slices of different sizes {sorted(shapes)}", str(Path(sorted_headers[0].path).parent))
    stacked = np.stack(slices)
    return stacked if stacked.dtype == np.uint8 and stacked.ndim == 4 else compact_dtype(stacked)
