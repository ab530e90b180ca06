"""``medsam-gui batch``: boxes to masks for a whole data set, here or on a Ray cluster.

    medsam-gui batch MANIFEST -o OUT_DIR [--model NAME] [--device ...] [--propagate]
        [--format nifti|seg] [--ray auto|local|ADDRESS] [--workers N]
        [--embeddings-only] [--cache-dir DIR]

MANIFEST: CSV with header ``image,label,slice,x0,y0,x1,y1`` (optional ``z0,z1``) or JSON
lines with those keys (see ``medsam_gui.cluster.manifest``). OUT_DIR gets one labelmap per
image (``<image>_labels.nii.gz`` on the scan's own grid, or ``_labels.dcm`` DICOM SEG),
``labels.csv`` and ``report.csv``. Exit status: 0 all rows done, 1 some rows failed
(the others are done), 2 bad usage or unreadable manifest, 130 stopped by Ctrl+C.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from medsam_gui.core.errors import MedsamGuiError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", help="CSV or JSON-lines manifest (with --embeddings-only also a folder of scans)")
    parser.add_argument("-o", "--output", required=True, help="output folder (labelmaps, labels.csv, report.csv)")
    parser.add_argument("--model", default="litemedsam", help="litemedsam (default), medsam, sam, a model folder or .pth")
    from medsam_gui.engine.models.device import DEVICE_CHOICES, DEVICE_HELP

    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help=DEVICE_HELP)
    parser.add_argument("--propagate", action="store_true",
                        help="carry each 2D box's mask up and down the volume until the object ends "
                             "(rows with z0,z1 always propagate within z0..z1)")
    parser.add_argument("--format", default="nifti", choices=("nifti", "seg"), dest="output_format",
                        help="nifti (.nii.gz, default) or seg (DICOM SEG for DICOM input; other input gets NIfTI)")
    parser.add_argument("--ray", metavar="auto|local|ADDRESS",
                        help="run on Ray: auto (the running cluster), local (start a local instance), or host:port")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="with --ray: number of actors (default: one per GPU, else one per 2 CPUs)")
    parser.add_argument("--embeddings-only", action="store_true",
                        help="only fill the embedding cache the app reads: the rows' slices (3D boxes: z0..z1; "
                             "with --propagate every slice) and each small box's zoomed crop; every slice of "
                             "each scan when MANIFEST is a folder")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="cache folder (as MEDSAM_GUI_CACHE_DIR, which it defaults to): embeddings go to "
                             "DIR/embeddings; start the app with MEDSAM_GUI_CACHE_DIR=DIR to use them")
    parser.add_argument("--cache-mb", type=float, default=2048,
                        help="disk embedding cache limit in MB, least recently used trimmed first (default 2048, "
                             "as the app)")


def run(args: argparse.Namespace) -> int:
    from medsam_gui.cluster.runner import BatchSettings, run_batch
    from medsam_gui.cluster.work import BatchOptions

    if args.workers is not None and args.workers < 1:
        raise MedsamGuiError("--workers must be 1 or more")
    if args.workers is not None and args.ray is None:
        raise MedsamGuiError("--workers is for --ray; without it the batch runs in this process")
    if args.ray is not None:
        from medsam_gui.cluster.ray_runner import import_ray

        import_ray()  # say how to install it before any work
    source = Path(args.manifest)
    if not source.exists():
        raise MedsamGuiError("no such manifest file or folder", source)
    cache_dir = str(Path(args.cache_dir).resolve()) if args.cache_dir else None
    settings = BatchSettings(
        source=source, output_dir=Path(args.output), model=args.model, device=args.device,
        options=BatchOptions(propagate=args.propagate, output_format=args.output_format),
        embeddings_only=args.embeddings_only, cache_dir=cache_dir, ray_address=args.ray,
        workers=args.workers, disk_cache_mb=args.cache_mb,
    )
    return run_batch(settings)
