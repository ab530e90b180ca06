"""``medsam-gui segment``: one mask from a box (and +/- points) on one slice, headless.

Box and points are voxel indices of slice N of the volume as the app holds it (the
grid ``convert`` writes) in the plane chosen with ``--plane`` (axial by default), as
that plane's slice is displayed (core/planes.py; coronal and sagittal slices have
superior on top): x = column, y = row, corners inclusive. ``--propagate`` walks along
the same plane's slice axis. The output is a
labelmap (value 1) on that grid: .nii.gz/.nii/.nrrd/.mha, .png (2D images, 0/255),
or .dcm DICOM SEG (DICOM input).
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.planes import PLANES, PlaneGeometry

LABELMAP_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="scan file or DICOM folder")
    parser.add_argument("--box", nargs=4, type=float, metavar=("X0", "Y0", "X1", "Y1"),
                        help="box corners in voxel indices of the slice (inclusive)")
    parser.add_argument("--plane", default="axial", choices=PLANES,
                        help="the plane of --slice, --box and --point (default axial); coronal and sagittal slices "
                             "are as the app shows them, superior on top")
    parser.add_argument("--slice", type=int, dest="slice_index", metavar="N",
                        help="slice index in that plane: z (axial), y (coronal) or x (sagittal); needed for volumes "
                             "with more than one slice")
    parser.add_argument("--point", nargs=3, type=float, action="append", default=None, metavar=("X", "Y", "LABEL"),
                        help="a point (x, y) with label 1 (inside) or 0 (outside); repeatable")
    parser.add_argument("--model", default="litemedsam", help="litemedsam (default), medsam, sam, a model folder or .pth")
    from medsam_gui.engine.models.device import DEVICE_CHOICES, DEVICE_HELP

    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help=DEVICE_HELP)
    parser.add_argument("--series", help="series to use from a DICOM folder: its SeriesInstanceUID as listed by "
                                          "`medsam-gui info` (no-series-uid for files without one)")
    # 3D propagation (issue 5)
    parser.add_argument("--propagate", action="store_true",
                        help="carry the mask along the plane's slice axis until the object ends")
    parser.add_argument("--slice-range", nargs=2, type=int, metavar=("A", "B"),
                        help="with --propagate: stay within slices A..B (inclusive) of the plane")
    # encoder service (issue 16): encode there, decode here
    parser.add_argument("--server", metavar="URL", help="encode on this encoder service (medsam-gui serve); decode here")
    parser.add_argument("--token", help="token for --server (default: the MEDSAM_GUI_TOKEN environment variable)")
    parser.add_argument("--server-ca", metavar="FILE", help="CA or self-signed certificate (PEM) to trust for --server")
    parser.add_argument("-o", "--output", required=True, help="output .nii.gz/.nrrd/.mha, .png (2D) or .dcm (DICOM SEG)")


def _output_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(LABELMAP_SUFFIXES):
        return "labelmap"
    if name.endswith(".png"):
        return "png"
    if name.endswith(".dcm"):
        return "dicom_seg"
    raise MedsamGuiError(f"unsupported output type: use {', '.join(LABELMAP_SUFFIXES)}, .png or .dcm", path)


def _points(raw) -> tuple[np.ndarray | None, np.ndarray | None]:
    if not raw:
        return None, None
    values = np.asarray(raw, dtype=np.float64)
    if not np.isin(values[:, 2], (0, 1)).all():
        raise MedsamGuiError("--point takes X Y and a label 1 (inside) or 0 (outside)")
    return values[:, :2], values[:, 2].astype(np.int64)


def run(args: argparse.Namespace) -> int:
    from medsam_gui.engine import Engine
    from medsam_gui.io.load import open_volume

    output = Path(args.output)
    kind = _output_kind(output)
    if args.box is None and not args.point:
        raise MedsamGuiError("give a --box X0 Y0 X1 Y1 and/or at least one --point X Y 1|0")
    points_xy, point_labels = _points(args.point)
    volume = open_volume(args.path, series_uid=args.series)
    if args.plane != "axial" and volume.shape_zyx[0] == 1:
        raise MedsamGuiError(f"a 2D image has only the axial plane (--plane {args.plane} needs a volume)", args.path)
    geometry = PlaneGeometry.of(volume, args.plane)
    slice_count = geometry.slice_count
    if args.slice_index is None:
        if slice_count > 1:
            letter = {"axial": "Z", "coronal": "Y", "sagittal": "X"}[args.plane]
            raise MedsamGuiError(f"--slice {letter} is needed: the volume has {slice_count} {args.plane} slices "
                                 f"(0..{slice_count - 1})", args.path)
        args.slice_index = 0
    if kind == "png" and volume.shape_zyx[0] > 1:
        raise MedsamGuiError("PNG output is for 2D images; use .nii.gz/.nrrd/.mha for a volume", output)
    engine = Engine.create(model_name=args.model, device=args.device, server_url=args.server, token=args.token,
                           server_cafile=args.server_ca)
    engine.set_volume(volume)
    slice_index = args.slice_index
    if not 0 <= slice_index < slice_count:
        raise MedsamGuiError(f"--slice {slice_index} is outside the volume's {args.plane} slices "
                             f"(0..{slice_count - 1})", args.path)
    prediction = _predict_blocking(engine, slice_index, args.box, points_xy, point_labels, args.plane)
    labels = np.zeros(volume.shape_zyx, dtype=np.uint8)
    geometry.take(labels, slice_index)[prediction.mask] = 1
    if args.propagate:
        labels[_propagate(engine, prediction, slice_count, args.slice_range)] = 1
    _write(kind, labels, volume, output)
    where = "slice" if args.plane == "axial" else f"{args.plane} slice"
    print(f"{where} {slice_index}: {int(prediction.mask.sum())} voxels, predicted IoU {prediction.score:.3f}, "
          f"model {engine.model_info.name} on {engine.model_info.device} -> {output}")
    for message in getattr(engine.backend, "take_messages", lambda: [])():
        print(f"warning: {message}")
    return 0


def _propagate(engine, prediction, slice_count: int, slice_range) -> np.ndarray:
    """bool ``[z, y, x]``: the key prediction carried along its plane's slice axis, encodes run in-thread."""
    from medsam_gui.engine.propagate import PropagationSettings, propagate

    settings = PropagationSettings(slice_range=tuple(slice_range) if slice_range else None)
    result = propagate(engine, prediction.slice_index, prediction.mask, slice_count, settings,
                       encode_inline=True, key_prediction=prediction, plane=prediction.plane)
    print(f"propagated to slices {result.first_slice}..{result.last_slice} ({'; '.join(result.stop_reasons.values())})")
    return result.mask_zyx


def _predict_blocking(engine, slice_index, box, points_xy, point_labels, plane):
    """Headless: run the queued encode jobs in this thread until predict succeeds."""
    from medsam_gui.engine.headless import predict_blocking

    return predict_blocking(engine, slice_index, box, points_xy, point_labels, plane=plane)


def _write(kind: str, labels: np.ndarray, volume, output: Path) -> None:
    if kind == "labelmap":
        from medsam_gui.io.itk_bridge import write_image

        write_image(labels, like=volume, path=output)
    elif kind == "png":
        from PIL import Image

        if not output.parent.is_dir():
            raise MedsamGuiError("output folder does not exist", output.parent)
        Image.fromarray((labels[0] * 255).astype(np.uint8)).save(output)
    else:
        if importlib.util.find_spec("medsam_gui.io.dicom_seg") is None:
            raise MedsamGuiError("DICOM SEG output needs medsam_gui.io.dicom_seg (not installed in this build)", output)
        from medsam_gui.core.labelmap import Label, LabelTable
        from medsam_gui.io.dicom_seg import write_dicom_seg

        write_dicom_seg(labels, volume, LabelTable([Label(1, "segment", (255, 64, 64))]), output,
                        on_warning=lambda message: print(f"warning: {message}"))
