"""``medsam-gui models``: known models, where their weights are, whether they are
available, and the runtimes / ONNX Runtime execution providers this machine offers."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--runtimes", action="store_true",
                        help="only the runtimes and ONNX Runtime providers (with --json: their JSON list)")


def run(args: argparse.Namespace) -> int:
    from medsam_gui.engine import list_models
    from medsam_gui.engine.models import list_runtimes
    from medsam_gui.engine.models.device import resolve_device
    from medsam_gui.engine.models.onnx_backend import OPENVINO_CPU, runtime_label

    entries = [] if args.runtimes else list_models()
    runtimes = list_runtimes()
    try:
        auto = resolve_device("auto")
        auto_text = (", then ".join(runtime_label(provider) + (" (ViT encoders)" if provider == OPENVINO_CPU else "")
                                    for provider in auto.providers)
                     if auto.runtime == "onnx" else f"torch {auto.torch_device}")
    except Exception as error:  # report, do not fail the listing
        auto_text = f"unavailable ({error})"
    if args.json:  # the models list keeps its format; runtimes on request
        listed = [runtime.__dict__ for runtime in runtimes] if args.runtimes else [entry.__dict__ for entry in entries]
        print(json.dumps(listed, indent=2))
        return 0
    if not args.runtimes:
        print(f"{'name':<12} {'available':<10} {'model':<24} {'licence':<11} weights")
        for entry in entries:
            state = "yes" if entry.available else "download"
            print(f"{entry.name:<12} {state:<10} {entry.display_name:<24} {entry.licence:<11} {entry.location}")
        print("Also accepted by --model: a transformers SAM/MedSAM folder, or an original .pth checkpoint.")
        print()
    print(f"{'--device':<14} {'available':<10} runtime / provider (in order of preference)")
    for runtime in runtimes:
        print(f"{runtime.device:<14} {'yes' if runtime.available else 'no':<10} {runtime.runtime} {runtime.provider}")
    print(f"--device auto picks: {auto_text}")
    return 0
