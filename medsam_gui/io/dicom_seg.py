"""DICOM SEG export and import (highdicom), mapped to the scan's slices by geometry.

Export: one BINARY segmentation instance referencing the source series and each of
its instances, one segment per label value present (name, colour as CIELab,
SNOMED CT category/type). Import: every SEG frame is placed on the open scan by its
plane position (or, lacking one, by the instance it was derived from).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom

from medsam_gui import __version__
from medsam_gui.core.errors import MedsamGuiError, UnreadableInputError
from medsam_gui.core.labelmap import MAX_LABEL_VALUE, Label, LabelTable, default_label
from medsam_gui.core.volume import Volume
from medsam_gui.io.atomic import atomic_output, refuse_source_overwrite
from medsam_gui.io.dicom_planes import PlaneOnGrid, plane_on_grid
from medsam_gui.io.labelmap_export import check_labels_fit
from medsam_gui.io.segment_codes import coding_for_label_name

UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID")  # filled in when blank
ALGORITHM = hd.AlgorithmIdentificationSequence(
    name="medsam-gui", family=pydicom.sr.codedict.codes.DCM.ArtificialIntelligence, version=__version__
)


def write_dicom_seg(
    labels_zyx: np.ndarray,
    volume: Volume,
    label_table: LabelTable,
    path: str | Path,
    on_warning: Callable[[str], None] | None = None,
) -> Path:
    """Write the labels of a DICOM-sourced volume as a DICOM SEG file; returns ``path``.

    Args:
        labels_zyx: uint8 ``[z, y, x]`` on the volume's display grid.
        volume: the scan; ``volume.dicom`` must reference its instances.
        label_table: names and colours; values missing from it get default names.
        path: the .dcm file to write (atomically; never a file of the source series).
        on_warning: called with each sentence the user should read about the file
            written, e.g. that the source series had no Study/Series UIDs and the SEG
            carries invented ones; without it they go to ``warnings.warn``.

    Raises:
        MedsamGuiError: no DICOM source, no label voxels, slices not on the grid
            (e.g. a gantry-tilted series that was resampled), or the target is a source file.
    """
    path = Path(path)
    if volume.dicom is None:
        raise MedsamGuiError("DICOM SEG needs a scan read from DICOM; export NIfTI/NRRD instead", path)
    check_labels_fit(labels_zyx, volume, path)
    refuse_source_overwrite(path, [volume.source_path, *volume.dicom.file_paths])
    values = [int(v) for v in np.unique(labels_zyx) if v != 0]
    if not values:
        raise MedsamGuiError("there are no labelled voxels to export", path)
    source_datasets, planes, invented_uids = _source_planes(volume, path)
    segment_of_value = np.zeros(MAX_LABEL_VALUE + 1, dtype=np.uint8)
    for segment_number, value in enumerate(values, start=1):
        segment_of_value[value] = segment_number
    frames = np.stack([segment_of_value[plane.read(labels_zyx)] for plane in planes])
    segmentation = hd.seg.Segmentation(
        source_images=source_datasets,
        pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[
            _segment_description(number, _label_for(label_table, value)) for number, value in enumerate(values, start=1)
        ],
        series_instance_uid=hd.UID(),
        series_number=9001,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="medsam-gui",
        manufacturer_model_name="medsam-gui",
        software_versions=__version__,
        device_serial_number="none",
        content_label="MEDSAM",
        content_description="Segmentation made with medsam-gui",
        series_description="medsam-gui segmentation",
    )
    with atomic_output(path) as temporary_path:
        segmentation.save_as(temporary_path)
    if invented_uids:
        names = " and ".join(sorted(invented_uids, key=UID_KEYWORDS.index))
        message = (
            f"the source series has no {names} (anonymised?), so the DICOM SEG carries invented ones; "
            "a viewer or PACS may not link it to the scan"
        )
        if on_warning is not None:
            on_warning(message)
        else:
            warnings.warn(message, stacklevel=2)
    return path


def read_dicom_seg(path: str | Path, volume: Volume) -> tuple[np.ndarray, LabelTable]:
    """Read a DICOM SEG onto ``volume``'s grid.

    Returns:
        labels uint8 ``[z, y, x]`` (segment number = label value; where segments
        overlap the higher number wins) and a LabelTable from the segment names and colours.

    Raises:
        UnreadableInputError: not a SEG, another frame of reference, frames off the grid.
    """
    path = Path(path)
    try:
        segmentation = hd.seg.segread(path)
    except Exception as error:  # highdicom/pydicom raise many kinds for a bad file
        raise UnreadableInputError(f"not a readable DICOM SEG ({error})", path) from error
    if volume.dicom is not None and segmentation.FrameOfReferenceUID != volume.dicom.frame_of_reference_uid:
        raise UnreadableInputError("the SEG belongs to another scan (different frame of reference)", path)
    numbers = [int(n) for n in segmentation.get_segment_numbers()]
    if max(numbers, default=0) > MAX_LABEL_VALUE:
        raise UnreadableInputError(f"more than {MAX_LABEL_VALUE} segments", path)
    pixels = np.asarray(segmentation.pixel_array)
    if pixels.ndim == 2:
        pixels = pixels[None]
    labels = np.zeros(volume.shape_zyx, dtype=np.uint8)
    shared = segmentation.SharedFunctionalGroupsSequence[0]
    placed_frames = 0
    for frame_index, frame_group in enumerate(segmentation.PerFrameFunctionalGroupsSequence):
        identification = _functional_item(frame_group, shared, "SegmentIdentificationSequence")
        segment_number = int(identification.ReferencedSegmentNumber)
        plane = _frame_plane(segmentation, frame_group, shared, volume, path)
        if plane is None:
            continue
        mask = pixels[frame_index] > 0
        plane.write(labels, np.full(mask.shape, segment_number, dtype=np.uint8), where=mask)
        placed_frames += 1
    if placed_frames == 0 and len(pixels):
        raise UnreadableInputError("none of the SEG frames lies on the open scan's slices", path)
    table = LabelTable([_label_from_segment(segmentation.get_segment_description(n)) for n in numbers])
    return labels, table


def _label_for(label_table: LabelTable, value: int) -> Label:
    if value in label_table:
        return label_table.get(value)
    name, colour = default_label(value)
    return Label(value, name, colour)


def _segment_description(segment_number: int, label: Label) -> hd.seg.SegmentDescription:
    coding = coding_for_label_name(label.name)
    return hd.seg.SegmentDescription(
        segment_number=segment_number,
        segment_label=label.name[:64],
        segmented_property_category=coding.category,
        segmented_property_type=coding.type,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
        algorithm_identification=ALGORITHM,
        display_color=hd.color.CIELabColor.from_rgb(*label.colour),
    )


def _label_from_segment(description) -> Label:
    number = int(description.SegmentNumber)
    name = str(getattr(description, "SegmentLabel", "") or default_label(number)[0])
    colour = default_label(number)[1]
    if "RecommendedDisplayCIELabValue" in description:
        lab = hd.color.CIELabColor.from_dicom_value([int(v) for v in description.RecommendedDisplayCIELabValue])
        colour = tuple(int(v) for v in lab.to_rgb())
    return Label(number, name, colour)


def _source_planes(volume: Volume, path: Path) -> tuple[list[pydicom.Dataset], list[PlaneOnGrid], set[str]]:
    """The source datasets (headers), per source frame where it sits on the volume, and
    the keywords of the UIDs that had to be invented (see :func:`_complete_identifiers`)."""
    reference = volume.dicom
    unique_paths = list(dict.fromkeys(reference.file_paths))
    datasets = []
    planes: list[PlaneOnGrid] = []
    invented_uids: set[str] = set()
    for file_path in unique_paths:
        try:
            dataset = pydicom.dcmread(file_path, stop_before_pixels=True)
        except (OSError, pydicom.errors.InvalidDicomError) as error:
            raise MedsamGuiError(f"cannot re-read the source instance {file_path} ({error})", path) from error
        invented_uids.update(_complete_identifiers(dataset, reference))
        datasets.append(dataset)
        for position, orientation, spacing in _planes_of_dataset(dataset):
            plane = plane_on_grid(volume, position, orientation, spacing, int(dataset.Rows), int(dataset.Columns))
            if plane is None:
                raise MedsamGuiError(
                    "the source slices do not lie on the scan's grid (gantry tilt or oblique stack); "
                    "export NIfTI/NRRD instead",
                    path,
                )
            planes.append(plane)
    return datasets, planes, invented_uids


def _complete_identifiers(dataset: pydicom.Dataset, reference) -> list[str]:
    """Fill UIDs an anonymiser blanked (in memory only) so the SEG can reference the instance.

    An empty SpecificCharacterSet (the default repertoire) is dropped, as highdicom rejects it.
    SOP class/instance come from the file meta; study/series/frame of reference from
    the volume's DicomReference, else a UID derived from the frame of reference so
    that every instance of the series gets the same one. Returns the keywords of
    those invented UIDs (a subset of ``UID_KEYWORDS``).
    """
    meta = getattr(dataset, "file_meta", None)
    if "SpecificCharacterSet" in dataset and not dataset.SpecificCharacterSet:
        del dataset.SpecificCharacterSet  # an empty value means the default repertoire
    if not dataset.get("SOPClassUID") and meta is not None:
        dataset.SOPClassUID = meta.get("MediaStorageSOPClassUID", "")
    if not dataset.get("SOPInstanceUID") and meta is not None:
        dataset.SOPInstanceUID = meta.get("MediaStorageSOPInstanceUID", "")
    anchor = str(dataset.get("FrameOfReferenceUID", "") or reference.frame_of_reference_uid)
    invented = []
    for keyword, known in zip(
        UID_KEYWORDS, (reference.study_instance_uid, reference.series_instance_uid, reference.frame_of_reference_uid)
    ):
        if dataset.get(keyword):
            continue
        if not known:
            known = pydicom.uid.generate_uid(entropy_srcs=[keyword, anchor])
            invented.append(keyword)
        setattr(dataset, keyword, known)
    return invented


def _planes_of_dataset(dataset: pydicom.Dataset):
    """Yield (position, orientation, pixel spacing) per frame of a single- or multi-frame image."""
    if "PerFrameFunctionalGroupsSequence" not in dataset:
        yield dataset.ImagePositionPatient, dataset.ImageOrientationPatient, dataset.PixelSpacing
        return
    shared = dataset.SharedFunctionalGroupsSequence[0]
    for frame_group in dataset.PerFrameFunctionalGroupsSequence:
        position = frame_group.PlanePositionSequence[0].ImagePositionPatient
        orientation = _functional_item(frame_group, shared, "PlaneOrientationSequence").ImageOrientationPatient
        spacing = _functional_item(frame_group, shared, "PixelMeasuresSequence").PixelSpacing
        yield position, orientation, spacing


def _functional_item(frame_group, shared, keyword: str):
    return getattr(frame_group, keyword)[0] if keyword in frame_group else getattr(shared, keyword)[0]


def _frame_plane(segmentation, frame_group, shared, volume: Volume, path: Path) -> PlaneOnGrid | None:
    """Where one SEG frame lands on the volume: by its plane position, else its source instance."""
    rows, columns = int(segmentation.Rows), int(segmentation.Columns)
    if "PlanePositionSequence" in frame_group:
        orientation = _functional_item(frame_group, shared, "PlaneOrientationSequence").ImageOrientationPatient
        spacing = _functional_item(frame_group, shared, "PixelMeasuresSequence").PixelSpacing
        position = frame_group.PlanePositionSequence[0].ImagePositionPatient
        return plane_on_grid(volume, position, orientation, spacing, rows, columns)
    if volume.dicom is None or "DerivationImageSequence" not in frame_group:
        raise UnreadableInputError("a SEG frame has neither a plane position nor a source instance", path)
    source_uid = frame_group.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
    if source_uid not in volume.dicom.sop_instance_uids:
        return None
    source_file = volume.dicom.file_paths[volume.dicom.sop_instance_uids.index(source_uid)]
    source = pydicom.dcmread(source_file, stop_before_pixels=True)
    return plane_on_grid(volume, source.ImagePositionPatient, source.ImageOrientationPatient, source.PixelSpacing, rows, columns)
