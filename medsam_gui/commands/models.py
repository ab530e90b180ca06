"""``medsam-gui models``: known models, where their weights are, whether they are available."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from medsam_gui.engine import list_models

    entries = list_models()
    if args.json:
        print(json.dumps([entry.__dict__ for entry in entries], indent=2))
        return 0
    print(f"{'name':<12} {'available':<10} {'model':<24} weights")
    for entry in entries:
        state = "yes" if entry.available else "download"
        print(f"{entry.name:<12} {state:<10} {entry.display_name:<24} {entry.location}")
    print("Also accepted by --model: a transformers SAM/MedSAM folder, or an original .pth checkpoint.")
    return 0
