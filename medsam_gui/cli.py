"""The ``medsam-gui`` command: the app by default, headless subcommands otherwise.

    medsam-gui [PATH]                    open the app
    medsam-gui info PATH [--json]        describe a scan (lists a DICOM folder's series)
    medsam-gui convert PATH -o OUT       write the volume as the app holds it
    medsam-gui segment PATH --box ...    segment from a box / points, headless
    medsam-gui models                    known models and where their weights are

Each subcommand lives in ``medsam_gui.commands.<name>`` with ``add_arguments(parser)``
and ``run(args) -> int``; only the module of the command given is imported, so
``info`` starts without loading torch. A :class:`MedsamGuiError` becomes one line on stderr and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from medsam_gui import __version__
from medsam_gui.core.errors import MedsamGuiError

SUBCOMMANDS = {
    "info": "describe a scan: size, spacing, origin, direction, modality, intensity range",
    "convert": "write the volume as the app holds it (.nii.gz, .nrrd, .mha)",
    "segment": "segment a slice from a box and points, write a labelmap",
    "models": "list known models, where their weights are, and whether they are available",
    "project": "annotation projects: init a worklist of cases, show its status, export a data set",
    "serve": "the encoder service: encode slices on this machine's GPU for desktops (token add|revoke NAME)",
    "batch": "boxes to masks for a whole data set from a manifest, here or on a Ray cluster",
}


def build_subcommand_parser(name: str) -> argparse.ArgumentParser:
    """The parser for subcommand ``name``; imports only that command's module."""
    module = importlib.import_module(f"medsam_gui.commands.{name}")
    parser = argparse.ArgumentParser(prog=f"medsam-gui {name}", description=SUBCOMMANDS[name])
    module.add_arguments(parser)
    parser.set_defaults(handler=module.run)
    return parser


def build_gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medsam-gui",
        description="Open the medsam-gui app.",
        epilog="subcommands:\n" + "\n".join(f"  {name:<9} {text}" for name, text in SUBCOMMANDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"medsam-gui {__version__}")
    parser.add_argument("path", nargs="?", help="a scan file or DICOM folder to open")
    parser.add_argument("--series", help="SeriesInstanceUID to open from a DICOM folder")
    parser.add_argument("--self-test", action="store_true", help="segment a bundled CT slice headless and report")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            args = build_subcommand_parser(argv[0]).parse_args(argv[1:])
            return int(args.handler(args) or 0)
        args = build_gui_parser().parse_args(argv)
        if args.self_test:
            from medsam_gui.commands.self_test import run_self_test

            return run_self_test()
        from medsam_gui.ui.platform_check import check_qt_platform_libraries

        check_qt_platform_libraries()  # before Qt: a missing X library is named, not an abort
        from medsam_gui.ui.app import run_app

        return run_app(args.path, series_uid=args.series)
    except MedsamGuiError as error:
        print(f"medsam-gui: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
