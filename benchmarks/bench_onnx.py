"""ONNX Runtime backends beside eager torch, in one run on one machine: LiteMedSAM
encoder per slice (stage graphs as the app runs them, and one whole graph to price the
split), decoder per prompt (backend.decode p50 / p95 over 100 boxes and 100 sets of 1-3
points, and predict()),
MedSAM ViT-B (random weights, same FLOPs) encoder per slice; optionally int8 quantization
of the LiteMedSAM encoder, dynamic or static (calibrated on a few slices of scans that
are not quality cases), with its Dice change on the quality cases.

    python benchmarks/bench_onnx.py [--threads 2] [--runs 3] [--skip-vit] [--quantize [dynamic|static]]
    python benchmarks/bench_onnx.py --decoder-only   # LiteMedSAM decoder rows alone (about a minute)
    python benchmarks/bench_onnx.py --vit-only [--runs 3] [--quantize]   # ViT-B encoder graphs in turns (minutes)

Ratios are ONNX time / torch time from the same run (this machine's speed drifts 2x
between days; compare only within a run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

DATA_ROOT = Path(os.environ.get("MEDSAM_GUI_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
CPU = "CPUExecutionProvider"
DECODE_TURN = 10  # prompts each backend decodes in one turn (decoder_rows)


def timed(function, runs):
    function()  # warm-up
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return np.asarray(seconds)


def alternated(functions: dict, runs):
    """{name: seconds per run} for each callable, run in turns (one warm-up each first):
    a slow phase of the machine falls on every candidate alike."""
    for function in functions.values():
        function()
    seconds = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            seconds[name].append(time.perf_counter() - started)
    return {name: np.asarray(values) for name, values in seconds.items()}


def matmul_rate(seconds=1.0):
    """This machine's fp32 multiply-adds per second in one large matrix product (torch,
    the app's thread count): the speed the floors below are priced at."""
    import torch

    a, b = torch.rand(4096, 768), torch.rand(768, 2304)
    a @ b
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        count += 1
    return count * 4096 * 768 * 2304 / (time.perf_counter() - started)


def multiply_adds(module, example) -> float:
    """Multiply-adds of one forward pass (torch's FLOP counter: matmuls and convolutions)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(example)
    return counter.get_total_flops() / 2


def real_slice():
    from medsam_gui.core.window import default_model_input_preset, resolve_model_input, to_model_input
    from medsam_gui.io.load import open_volume

    volume = open_volume(DATA_ROOT / "dcmqi" / "ct-3slice")
    preset = resolve_model_input(default_model_input_preset(volume.voxels, volume.modality), volume.voxels)
    return volume, to_model_input(volume.slice(1), preset)


def whole_graph_session(torch_encoder, input_size, folder):
    """The encoder as one graph (no pause points), to price the stage split."""
    import onnxruntime
    import torch

    from medsam_gui.engine.models.onnx_backend import session_options
    from medsam_gui.engine.models.onnx_export import GraphSpec, export_graph

    path = Path(folder) / "whole.onnx"
    export_graph(GraphSpec("whole", torch_encoder, (torch.rand(1, 3, input_size, input_size),), ("input",), ("output",)), path)
    return onnxruntime.InferenceSession(str(path), session_options(), providers=[CPU])


def row(table, step, torch_s, onnx_s, note=""):
    table.append(f"| {step} | {torch_s * 1000:8.1f} | {onnx_s * 1000:8.1f} | {onnx_s / torch_s:5.2f} | {note} |")


def decoder_rows(table, label, torch_backend, onnx_backend, image, runs=100):
    from bench_latency import random_prompts

    from medsam_gui.engine.types import Prompts

    rows, cols = image.shape[:2]
    boxes, points = random_prompts(runs, rows, cols)
    pairs = ((torch_backend, torch_backend.encode(image)), (onnx_backend, onnx_backend.encode(image)))
    # a box alone upscales only its window of the grid (engine/models/decoder_window.py); points use the whole grid
    prompt_kinds = {"box": [Prompts(box_xyxy=box) for box in boxes],
                    "1-3 points": [Prompts(points_xy=xy, point_labels=labels) for xy, labels in points]}
    for kind, prompt_list in prompt_kinds.items():
        # the two backends take turns, 10 prompts each (who goes first alternates): this machine's
        # speed shifts by up to 1.6x for seconds at a time, and one backend's 100 prompts in a row
        # (4 s) could land in such a phase while the other's did not. Each turn starts with an
        # untimed decode (torch's OpenMP threads spin for a few ms after its last call).
        results = ([], [])
        for turn, start in enumerate(range(0, len(prompt_list), DECODE_TURN)):
            for which in ((0, 1) if turn % 2 == 0 else (1, 0)):
                backend, embedding = pairs[which]
                backend.decode(embedding, prompt_list[start])
                for prompts in prompt_list[start:start + DECODE_TURN]:
                    started = time.perf_counter()
                    backend.decode(embedding, prompts)
                    results[which].append(time.perf_counter() - started)
        for name, q in (("p50", 50), ("p95", 95)):
            row(table, f"{label} backend.decode, {kind}, {runs} prompts, {name}", np.percentile(results[0], q),
                np.percentile(results[1], q))


def predict_rows(table, torch_backend, onnx_backend, volume, runs=100):
    from bench_latency import random_prompts

    from medsam_gui.engine import Engine, RoiPolicy
    from medsam_gui.engine.cache import EmbeddingCache
    from medsam_gui.engine.headless import predict_blocking

    _, rows, cols = volume.shape_zyx
    boxes, _ = random_prompts(runs, rows, cols)
    results = []
    for backend in (torch_backend, onnx_backend):
        engine = Engine(backend, EmbeddingCache(128), RoiPolicy(switch_fraction=0.0))
        engine.set_volume(volume)
        predict_blocking(engine, 1, box_xyxy=boxes[0])
        seconds = []
        for box in boxes:
            started = time.perf_counter()
            engine.predict(1, box_xyxy=box)
            seconds.append(time.perf_counter() - started)
        results.append(np.asarray(seconds))
    row(table, f"LiteMedSAM predict(), box (incl. box refinement), {runs} prompts, p95",
        np.percentile(results[0], 95), np.percentile(results[1], 95))


# calibration images for static quantization, none of them a quality case: (scan, slices)
CALIBRATION_SCANS = (("nrrd/MRHeadResampled.nhdr", 6), ("transfer_syntax/CTImage.dcm", 1),
                     ("transfer_syntax/CT0012.fragmented_no_bot_jpeg_baseline.51.dcm", 1))


def calibration_stage_inputs(backend):
    """For each LiteMedSAM encoder stage graph, its inputs on the CALIBRATION_SCANS slices
    (evenly spread over each scan, the app's default model-input window)."""
    from medsam_gui.core.window import default_model_input_preset, resolve_model_input, to_model_input
    from medsam_gui.engine.models.litemedsam import preprocess
    from medsam_gui.io.load import open_volume

    inputs = [[] for _ in backend.encoder_sessions]
    for name, slices in CALIBRATION_SCANS:
        volume = open_volume(DATA_ROOT / name)
        preset = resolve_model_input(default_model_input_preset(volume.voxels, volume.modality), volume.voxels)
        count = volume.shape_zyx[0]
        for slice_index in np.linspace(count * 0.2, count * 0.8, slices).round().astype(int) if slices > 1 else [count // 2]:
            pixels, _ = preprocess(to_model_input(volume.slice(int(slice_index)), preset))
            values = np.ascontiguousarray(pixels.numpy(), dtype=np.float32)
            for stage, session in enumerate(backend.encoder_sessions):
                inputs[stage].append(values)
                values = session.run(None, {"input": values})[0]
    return inputs


def quantized_encoder_sessions(backend, folder, mode="dynamic"):
    """int8 encoder stage sessions: ``dynamic`` (weights int8, activations quantized per
    call) or ``static`` (QDQ, activation ranges calibrated beforehand, per-channel weights)."""
    import onnxruntime
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static

    from medsam_gui.engine.models.onnx_backend import session_options

    class StageInputs(CalibrationDataReader):
        def __init__(self, arrays):
            self.arrays = iter(arrays)

        def get_next(self):
            array = next(self.arrays, None)
            return None if array is None else {"input": array}

    stage_inputs = calibration_stage_inputs(backend) if mode == "static" else None
    sessions = []
    for stage, path in enumerate(backend.export.graphs("encoder_")):
        target = Path(folder) / f"int8-{mode}-{path.name}"
        if mode == "static":
            quantize_static(str(path), str(target), StageInputs(stage_inputs[stage]), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
        else:
            quantize_dynamic(str(path), str(target), weight_type=QuantType.QInt8)
        sessions.append(onnxruntime.InferenceSession(str(target), session_options(), providers=[CPU]))
    return sessions


def quality_dice(backend, limit=None):
    """Mean Dice from tight boxes (engine default ROI policy and refinement) on the
    quality cases, and the masks."""
    from bench_quality import box_of, dice, predict
    from quality_cases import all_cases

    from medsam_gui.engine import Engine
    from medsam_gui.engine.cache import EmbeddingCache

    engine = Engine(backend, EmbeddingCache(256))
    current, scores, masks = None, [], []
    for index, (group, volume, slice_index, truth) in enumerate(all_cases()):
        if limit is not None and index >= limit:
            break
        if volume is not current:
            engine.set_volume(volume)
            current = volume
        mask = predict(engine, slice_index, box_of(truth)).mask
        scores.append(dice(mask, truth))
        masks.append(mask)
    return float(np.mean(scores)), masks


def random_vit_b(attention="sdpa"):
    """SamModel ViT-B with random weights of a trained network's scale (std 0.03, layer
    norm gains near 1, relative positions 0.3): SamConfig's own initialisation gives
    weights of about 1e-10, whose embeddings cannot show an ONNX vs torch difference.
    ``attention``: transformers' attention implementation (torch's FLOP counter does not
    count "sdpa" products)."""
    import torch
    from transformers import SamConfig, SamModel

    torch.manual_seed(0)
    model = SamModel._from_config(SamConfig(), attn_implementation=attention).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.vision_encoder.named_parameters():
            gain = 1.0 if "layer_norm" in name and name.endswith("weight") else 0.0
            parameter.copy_(gain + torch.randn(parameter.shape, generator=generator) * (0.3 if "rel_pos" in name else 0.03))
    return model


def vit_encoder_rows(image, runs, scratch, notes, int8=False):
    """MedSAM ViT-B encoder per slice, ``backend.encode`` in turns: eager torch, ONNX stage
    graphs of transformers' layers (the export before ``VIT_ENCODER_FORMAT`` 2) and of
    :class:`FastVitLayer` (the app's) on ONNX Runtime, the same graphs on OpenVINO's CPU
    plugin (what the app runs when ``openvino`` is installed), optionally FastVitLayer's graphs int8 (dynamic
    quantization, speed only). Prints a table against the matmul floor (the rate of one
    large product measured before every turn; the floor at the best of them), with the
    1-min load average over each candidate's runs. Returns (torch backend, ONNX backend)."""
    import copy
    from unittest import mock

    import torch

    from medsam_gui.engine.models import fast_vit
    from medsam_gui.engine.models.onnx_backend import open_sessions, sam_onnx_backend_from_model, session_options
    from medsam_gui.engine.models.openvino_session import OPENVINO_CPU, openvino_installed
    from medsam_gui.engine.models.onnx_export import encoder_specs, export_graph, vit_encoder_stages
    from medsam_gui.engine.models.sam_hf import SamBackend

    class OriginalLayer(torch.nn.Module):  # transformers' SamVisionLayer as the export traced it before
        def __init__(self, layer):
            super().__init__()
            self.layer = layer

        def forward(self, hidden):
            out = self.layer(hidden)
            return out[0] if isinstance(out, tuple) else out

    model = random_vit_b()
    labels = ("medsam", "medsam-random", "MedSAM ViT-B (random)", "random", "-", "medsam-random")
    vit_torch = SamBackend(model, *labels, torch.device("cpu"))
    started = time.perf_counter()
    vit_onnx = sam_onnx_backend_from_model(model, "random-vit-b-std-0.03", *labels, [CPU], export_progress=lambda *call: None)
    notes.append(f"MedSAM ViT-B export + load: {time.perf_counter() - started:.0f} s")
    with mock.patch.object(fast_vit, "FastVitLayer", OriginalLayer):
        original_specs = encoder_specs(vit_encoder_stages(model.vision_encoder), 1024)
    paths = []
    for spec in original_specs:
        paths.append(Path(scratch) / f"original-{spec.name}.onnx")
        export_graph(spec, paths[-1])
    original_onnx = copy.copy(vit_onnx)
    original_onnx.encoder_sessions = open_sessions(paths, [CPU], session_options(memory_arena=False))[0]
    candidates = {"eager torch (transformers' layers, SDPA)": vit_torch,
                  "ONNX Runtime, transformers' layers (before)": original_onnx,
                  "ONNX Runtime, FastVitLayer (without openvino)": vit_onnx}
    if openvino_installed():
        candidates["OpenVINO CPU, FastVitLayer graphs (now)"] = sam_onnx_backend_from_model(
            model, "random-vit-b-std-0.03", *labels, [OPENVINO_CPU, CPU], export_progress=lambda *call: None)
    else:
        notes.append("openvino is not installed: no OpenVINO row (pip install openvino)")
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8_onnx = copy.copy(vit_onnx)
        int8_paths = []
        for path in vit_onnx.export.graphs("encoder_"):
            int8_paths.append(Path(scratch) / f"int8-{path.name}")
            quantize_dynamic(str(path), str(int8_paths[-1]), weight_type=QuantType.QInt8)
        int8_onnx.encoder_sessions = open_sessions(int8_paths, [CPU], session_options(memory_arena=False))[0]
        candidates["ONNX Runtime, FastVitLayer int8 dynamic (not adopted)"] = int8_onnx
    loads = {name: [] for name in candidates}
    cpu_seconds = {name: [] for name in candidates}  # process CPU time: less shaken by other processes than wall time
    rates = []

    def timed_encode(name, backend):
        def encode():
            if name == next(iter(candidates)):  # the start of a turn
                rates.append(matmul_rate(0.5))
            started = time.process_time()
            backend.encode(image)
            cpu_seconds[name].append(time.process_time() - started)
            loads[name].append(os.getloadavg()[0])
        return encode

    seconds = alternated({name: timed_encode(name, backend) for name, backend in candidates.items()}, runs)
    eager = random_vit_b("eager").vision_encoder
    original_macs = multiply_adds(eager, torch.rand(1, 3, 1024, 1024))
    eager.layers = torch.nn.ModuleList(fast_vit.FastVitLayer(layer) for layer in eager.layers)
    fast_macs = multiply_adds(eager, torch.rand(1, 3, 1024, 1024))
    rate = max(rates)
    floor_s = original_macs / rate
    reference = vit_torch.features_to_array(vit_torch.encode(image).features)
    print(f"\nMedSAM ViT-B encoder per slice (backend.encode, random weights), {runs} turns after one warm-up each; "
          f"matmul rate before each turn {' / '.join(f'{r / 1e9:.0f}' for r in rates)} G/s; floor "
          f"{original_macs / 1e9:.0f} G multiply-adds / {rate / 1e9:.0f} G/s = {floor_s * 1000:.0f} ms "
          f"(FastVitLayer does {fast_macs / 1e9:.0f} G: {fast_macs / rate * 1000:.0f} ms)\n")
    print("| encoder | mean ms | min ms | mean / floor | min / floor | CPU s per slice (median) | max abs diff vs eager torch "
          "| load avg (1 min) during its runs |")
    print("|---|---|---|---|---|---|---|---|")
    for name, backend in candidates.items():
        values = seconds[name]
        difference = np.abs(backend.features_to_array(backend.encode(image).features) - reference).max()
        print(f"| {name} | {values.mean() * 1000:.0f} | {values.min() * 1000:.0f} | {values.mean() / floor_s:.2f} | "
              f"{values.min() / floor_s:.2f} | {np.median(cpu_seconds[name][1:]):.2f} | {difference:.1e} | {np.mean(loads[name][1:]):.1f} |")
    notes.append(f"embedding max |value| {np.abs(reference).max():.1f}")
    return vit_torch, vit_onnx


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-vit", action="store_true")
    parser.add_argument("--quantize", nargs="?", const="dynamic", choices=("dynamic", "static"),
                        help="also try int8 quantization of the encoder (default dynamic)")
    parser.add_argument("--quality-limit", type=int, default=None, help="quality cases for --quantize (default all; 0: speed only)")
    parser.add_argument("--quantize-only", action="store_true",
                        help="with --quantize: only the encoder rows and the quantization trial (no decoder / whole-graph rows)")
    parser.add_argument("--decoder-only", action="store_true", help="only the LiteMedSAM backend.decode rows")
    parser.add_argument("--vit-only", action="store_true",
                        help="only the MedSAM ViT-B encoder table (--runs turns; with --quantize dynamic also int8 speed)")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="medsam-bench-onnx-")
    os.environ.setdefault("MEDSAM_GUI_CACHE_DIR", scratch)
    import torch

    torch.set_num_threads(args.threads)
    from medsam_gui.engine.models import load_backend
    from medsam_gui.engine.models.litemedsam import preprocess

    table = []
    notes = []
    if args.vit_only:
        vit_encoder_rows(real_slice()[1], args.runs, scratch, notes, args.quantize == "dynamic")
        print("\n".join(f"- {note}" for note in notes))
        shutil.rmtree(scratch, ignore_errors=True)
        return 0
    started = time.perf_counter()
    lite_onnx = load_backend("litemedsam", device="onnx-cpu", export_progress=lambda *call: None)
    notes.append(f"LiteMedSAM export + load (first time, cached afterwards): {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    load_backend("litemedsam", device="onnx-cpu")
    notes.append(f"LiteMedSAM ONNX load from the export cache: {time.perf_counter() - started:.2f} s")
    lite_torch = load_backend("litemedsam", device="cpu")
    volume, image = real_slice()
    if args.decoder_only:
        decoder_rows(table, "LiteMedSAM", lite_torch, lite_onnx, image)
        print_table(args.threads, table, notes + [f"load average {' / '.join(f'{v:.2f}' for v in os.getloadavg())} at the end"])
        shutil.rmtree(scratch, ignore_errors=True)
        return 0
    pixels = preprocess(image)[0]
    rate = matmul_rate()
    lite_macs = multiply_adds(lite_torch.encoder, pixels)
    lite_floor_s = lite_macs / rate
    notes.append(f"matmul floor: {rate / 1e9:.0f} G multiply-adds/s in one large fp32 product, same run; LiteMedSAM encoder "
                 f"{lite_macs / 1e9:.1f} G -> floor {lite_floor_s * 1000:.0f} ms")
    encoders = {"torch": lambda: lite_torch.encode(image),
                "stages": lambda: lite_onnx.encode(image, between_blocks=lambda: None)}
    if not (args.quantize and args.quantize_only):
        whole = whole_graph_session(lite_torch.encoder, 256, scratch)
        encoders["whole"] = lambda: whole.run(None, {"input": pixels.numpy()})
    encode_s = alternated(encoders, args.runs)
    torch_s = encode_s["torch"]
    row(table, "LiteMedSAM encoder per slice (mean), 12 stage graphs", torch_s.mean(), encode_s["stages"].mean(),
        f"app path, 11 pause points; {encode_s['stages'].mean() / lite_floor_s:.2f}x the matmul floor")
    if "whole" in encode_s:
        row(table, "LiteMedSAM encoder per slice (mean), one whole graph", torch_s.mean(), encode_s["whole"].mean(),
            f"no pause points; {encode_s['whole'].mean() / lite_floor_s:.2f}x the matmul floor")
    if not (args.quantize and args.quantize_only):
        difference = np.abs(lite_onnx.features_to_array(lite_onnx.encode(image).features)
                            - lite_torch.features_to_array(lite_torch.encode(image).features)).max()
        notes.append(f"LiteMedSAM max |embedding difference| ONNX vs torch: {difference:.1e}")
        decoder_rows(table, "LiteMedSAM", lite_torch, lite_onnx, image)
        predict_rows(table, lite_torch, lite_onnx, volume)

    if args.quantize:
        fp32_sessions = lite_onnx.encoder_sessions
        int8_sessions = quantized_encoder_sessions(lite_onnx, scratch, args.quantize)
        lite_onnx.encoder_sessions = int8_sessions
        int8_s = timed(lambda: lite_onnx.encode(image), args.runs)
        lite_onnx.encoder_sessions = fp32_sessions
        fp32_again_s = timed(lambda: lite_onnx.encode(image), args.runs)  # right beside it: the machine drifts
        row(table, f"LiteMedSAM encoder per slice, int8 {args.quantize} quantization", torch_s.mean(), int8_s.mean(),
            f"{fp32_again_s.mean() / int8_s.mean():.2f}x the speed of fp32 ONNX timed right after "
            f"({fp32_again_s.mean() * 1000:.0f} ms)")
    if args.quantize and args.quality_limit != 0:
        lite_onnx.encoder_sessions = int8_sessions
        int8_dice, int8_masks = quality_dice(lite_onnx, args.quality_limit)
        lite_onnx.encoder_sessions = fp32_sessions
        fp32_dice, fp32_masks = quality_dice(lite_onnx, args.quality_limit)
        torch_dice, torch_masks = quality_dice(lite_torch, args.quality_limit)
        from bench_quality import dice

        agreement = np.mean([dice(a, b) for a, b in zip(fp32_masks, torch_masks)])
        notes.append(f"quality cases ({len(torch_masks)}), mean Dice tight box: torch {torch_dice:.4f}, ONNX fp32 {fp32_dice:.4f} "
                     f"({fp32_dice - torch_dice:+.4f}), ONNX int8 {args.quantize} encoder {int8_dice:.4f} "
                     f"({int8_dice - torch_dice:+.4f}, {int8_dice - fp32_dice:+.4f} vs fp32); "
                     f"mean Dice(ONNX fp32 mask, torch mask) {agreement:.4f}")

    if not args.skip_vit:
        vit_torch, vit_onnx = vit_encoder_rows(image, max(1, args.runs - 2), scratch, notes)
        decoder_rows(table, "MedSAM ViT-B", vit_torch, vit_onnx, image)

    print_table(args.threads, table, notes)
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


def print_table(threads, table, notes):
    import onnxruntime
    import torch

    print(f"\ntorch {torch.__version__}, onnxruntime {onnxruntime.__version__} (CPUExecutionProvider), "
          f"{threads} threads; times in ms; ratio = ONNX / torch, same run\n")
    print("| step | eager torch | ONNX Runtime | ratio | note |")
    print("|---|---|---|---|---|")
    print("\n".join(table))
    print()
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    sys.exit(main())
