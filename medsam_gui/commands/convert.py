"""``medsam-gui convert PATH -o OUT [--series UID]``: write the volume as the app holds it.

OUT ends in .nii.gz, .nii, .nrrd or .mha. The voxels and geometry written are the
display grid that ``segment`` box coordinates refer to. Nothing is written when
reading fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

from medsam_gui.commands.info import series_table
from medsam_gui.core.errors import AmbiguousSeriesError, MedsamGuiError
from medsam_gui.io.itk_bridge import WRITABLE_SUFFIXES, write_image
from medsam_gui.io.load import open_volume


def add_arguments(parser) -> None:
    parser.add_argument("path", help="a scan file or a DICOM folder")
    parser.add_argument("-o", "--output", required=True, help="output file: " + ", ".join(WRITABLE_SUFFIXES))
    parser.add_argument("--series", help="SeriesInstanceUID to convert from a folder with several series")


def run(args) -> int:
    output = Path(args.output)
    if not output.name.lower().endswith(WRITABLE_SUFFIXES):
        raise MedsamGuiError(f"unsupported output type: use one of {', '.join(WRITABLE_SUFFIXES)}", output)
    try:
        volume = open_volume(args.path, series_uid=args.series)
    except AmbiguousSeriesError as error:
        print(f"medsam-gui: error: {error}", file=sys.stderr)
        print(series_table(error.series), file=sys.stderr)
        return 2
    write_image(volume.voxels, volume, output)
    for warning in volume.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    x, y, z = volume.size_xyz
    print(f"wrote {output} ({x} x {y} x {z}, {volume.voxels.dtype})")
    return 0
