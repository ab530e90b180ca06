"""Read an enhanced (multi-frame) CT/MR DICOM file as a volume.

Geometry and rescale come from the functional groups: per-frame values win over
shared ones. A file may mix frames that do not belong in one volume (several
image types, echoes, time points or stacks, as Philips files often do); frames are
grouped by those properties and only the largest consistent group is stacked,
with a warning that says what was left out. A group that still repeats a
position is refused rather than stacked blindly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.core.volume import DicomReference, Volume
from medsam_gui.io.dicom_geometry import stack_geometry, untilt_slices
from medsam_gui.io.dicom_pixels import compact_dtype, decode_frames, rescale, rescale_of, window_of
from medsam_gui.io.volume_builder import build_volume

FRAME_TYPE_SEQUENCES = ("MRImageFrameTypeSequence", "CTImageFrameTypeSequence", "PETFrameTypeSequence")


def _group_item(dataset: pydicom.Dataset, frame_item: pydicom.Dataset | None, sequence: str) -> pydicom.Dataset | None:
    """First item of ``sequence`` for a frame: per-frame group first, then shared."""
    for groups in (frame_item, _shared_groups(dataset)):
        items = groups.get(sequence, None) if groups is not None else None
        if items:
            return items[0]
    return None


def _shared_groups(dataset: pydicom.Dataset) -> pydicom.Dataset | None:
    shared = dataset.get("SharedFunctionalGroupsSequence", None)
    return shared[0] if shared else None


def _frame_properties(dataset: pydicom.Dataset, frame_item: pydicom.Dataset | None) -> dict:
    position = _group_item(dataset, frame_item, "PlanePositionSequence")
    orientation = _group_item(dataset, frame_item, "PlaneOrientationSequence")
    measures = _group_item(dataset, frame_item, "PixelMeasuresSequence")
    transform = _group_item(dataset, frame_item, "PixelValueTransformationSequence")
    frame_type = None
    for sequence in FRAME_TYPE_SEQUENCES:
        item = _group_item(dataset, frame_item, sequence)
        if item is not None and "FrameType" in item:
            frame_type = tuple(str(v) for v in item.FrameType)
            break
    echo = _group_item(dataset, frame_item, "MREchoSequence")
    content = _group_item(dataset, frame_item, "FrameContentSequence")
    return {
        "position": [float(v) for v in position.ImagePositionPatient] if position is not None and "ImagePositionPatient" in position else None,
        "orientation": [float(v) for v in orientation.ImageOrientationPatient] if orientation is not None and "ImageOrientationPatient" in orientation else None,
        "pixel_spacing": [float(v) for v in measures.PixelSpacing] if measures is not None and "PixelSpacing" in measures else None,
        "slice_spacing": float(measures.get("SpacingBetweenSlices", None) or measures.get("SliceThickness", None) or 0) if measures is not None else 0.0,
        "rescale": rescale_of(transform) if transform is not None else rescale_of(dataset),
        "window": window_of(_group_item(dataset, frame_item, "FrameVOILUTSequence") or dataset),
        "frame_type": frame_type,
        "echo_time": round(float(echo.get("EffectiveEchoTime", 0) or 0), 3) if echo is not None else None,
        "temporal_index": int(content.get("TemporalPositionIndex", 0) or 0) if content is not None else None,
        "stack_id": str(content.get("StackID", "")) if content is not None else None,
    }


def _group_key(properties: dict) -> tuple:
    orientation = tuple(round(v, 3) for v in properties["orientation"]) if properties["orientation"] else None
    spacing = tuple(round(v, 4) for v in properties["pixel_spacing"]) if properties["pixel_spacing"] else None
    return (properties["frame_type"], orientation, spacing, properties["echo_time"], properties["temporal_index"], properties["stack_id"])


def _describe_group(key: tuple) -> str:
    frame_type, _, _, echo_time, temporal_index, stack_id = key
    parts = []
    if frame_type:
        parts.append("type " + "\\".join(frame_type))
    if echo_time is not None:
        parts.append(f"echo {echo_time:g} ms")
    if temporal_index:
        parts.append(f"time point {temporal_index}")
    if stack_id:
        parts.append(f"stack {stack_id}")
    return ", ".join(parts) or "other orientation or pixel spacing"


def read_multiframe(path: str) -> Volume:
    """Volume from one multi-frame DICOM file (enhanced CT/MR or plain multi-frame)."""
    decoded = decode_frames(path)
    dataset = decoded.dataset
    frame_count = decoded.frames.shape[0]
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence", None)
    if per_frame is not None and len(per_frame) != frame_count:
        raise UnreadableInputError(
            f"{len(per_frame)} per-frame functional groups for {frame_count} frames", path
        )
    properties = [_frame_properties(dataset, per_frame[i] if per_frame is not None else None) for i in range(frame_count)]
    chosen, warnings = _choose_frames(properties)
    frames = decoded.frames[chosen]
    chosen_properties = [properties[i] for i in chosen]
    first = chosen_properties[0]
    pixel_spacing = first["pixel_spacing"] or [float(v) for v in dataset.get("PixelSpacing", [1.0, 1.0])]
    slice_spacing = first["slice_spacing"] or float(dataset.get("SpacingBetweenSlices", None) or dataset.get("SliceThickness", None) or 1.0)
    orientation = first["orientation"] or (list(dataset.ImageOrientationPatient) if "ImageOrientationPatient" in dataset else None)
    positions = [p["position"] for p in chosen_properties]
    if orientation is not None and all(p is not None for p in positions):
        geometry = stack_geometry(np.array(positions), orientation, pixel_spacing, path, slice_spacing)
        order = geometry.order
        spacing, origin, direction = geometry.spacing_xyz, geometry.origin_xyz, geometry.direction
        warnings.extend(geometry.warnings)
    else:
        geometry = None
        order = list(range(len(chosen)))
        spacing, origin, direction = (pixel_spacing[1], pixel_spacing[0], slice_spacing), (0.0, 0.0, 0.0), np.eye(3)
        warnings.append(
            "the file carries no per-frame position/orientation: frames are stacked in file order "
            f"{slice_spacing:g} mm apart with an identity direction"
        )
    voxels = _rescaled_frames(frames[order], [chosen_properties[i] for i in order], decoded.already_rescaled)
    if geometry is not None and geometry.in_plane_shift_px is not None:
        voxels = compact_dtype(untilt_slices(voxels, geometry.in_plane_shift_px))
    frame_numbers = tuple(chosen[i] + 1 for i in order)
    sop_instance_uid = str(dataset.get("SOPInstanceUID", ""))
    dicom = DicomReference(
        study_instance_uid=str(dataset.get("StudyInstanceUID", "")),
        series_instance_uid=str(dataset.get("SeriesInstanceUID", "")),
        frame_of_reference_uid=str(dataset.get("FrameOfReferenceUID", "")),
        sop_class_uid=str(dataset.get("SOPClassUID", "")),
        sop_instance_uids=(sop_instance_uid,) * len(order),
        file_paths=(str(path),) * len(order),
        frame_numbers=frame_numbers,
    )
    return build_volume(
        voxels,
        spacing,
        origin,
        direction,
        source_path=str(path),
        modality=str(dataset.get("Modality", "OT") or "OT"),
        default_window=first["window"],
        dicom=dicom,
        warnings=warnings,
        description=str(dataset.get("SeriesDescription", "") or Path(path).name),
    )


def _choose_frames(properties: list[dict]) -> tuple[list[int], list[str]]:
    """Indices of the largest consistent group of frames, and a warning when others exist."""
    groups: dict[tuple, list[int]] = {}
    for index, frame in enumerate(properties):
        groups.setdefault(_group_key(frame), []).append(index)
    if len(groups) == 1:
        return list(range(len(properties))), []
    chosen_key, chosen = max(groups.items(), key=lambda item: len(item[1]))
    others = "; ".join(f"{len(v)} frames of {_describe_group(k)}" for k, v in groups.items() if k != chosen_key)
    return chosen, [
        f"the file mixes frames that do not form one volume: showing the {len(chosen)} frames of "
        f"{_describe_group(chosen_key)}, leaving out {others}"
    ]


def _rescaled_frames(frames: np.ndarray, properties: list[dict], already_rescaled: bool) -> np.ndarray:
    """Per-frame rescale to original units; RGB frames stay uint8."""
    if frames.ndim == 4:
        return frames
    if already_rescaled:
        return compact_dtype(frames.astype(np.float32))
    values = np.empty(frames.shape, dtype=np.float32)
    for index, (frame, frame_properties) in enumerate(zip(frames, properties)):
        slope, intercept = frame_properties["rescale"]
        values[index] = rescale(frame, slope, intercept)
    return compact_dtype(values)
