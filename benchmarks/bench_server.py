"""Encoder service on loopback vs the encoder in process, and a bounded load test.

    python benchmarks/bench_server.py [--repeats 3] [--clients 8] [--requests 50]
                                      [--size 512] [--skip-vitb] [--load-model litemedsam|tiny]

Starts ``medsam-gui serve`` as a subprocess on 127.0.0.1 (plain HTTP on loopback),
serving LiteMedSAM (bundled weights) and a random-weight SAM ViT-B (transformers
SamConfig() defaults: the ViT-B of MedSAM, 1024 px input), then prints:
  1. seconds per embedding: in process vs through the service (client encode + wire +
     server encode + fp16), and the bytes on the wire per embedding (up, down, and the
     raw fp16 size);
  2. a load test: CLIENTS threads x REQUESTS requests each (one token per client),
     p50/p95 latency, throughput, errors (must be 0), server RSS before/after. On
     LiteMedSAM by default (on a GPU server); ``--load-model tiny`` uses the 64 px
     random SAM of tests/engine/engine_testkit.py, whose encoder costs ~nothing, so the
     numbers are the service's own (HTTP, tokens, wire, queueing): 400 LiteMedSAM
     passes take about 9 minutes on two CPU cores.
"Service overhead" is the round trip minus the server's own encoder time (its Server-Timing
header): what the service adds, whatever else keeps the CPUs busy. Nothing leaves
127.0.0.1. The CPU count and torch threads are printed with the table.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def slice_image(size: int, seed: int) -> np.ndarray:
    """A CT-like grey uint8 slice [size, size, 3]: a disc on noise (what windowing gives)."""
    rng = np.random.default_rng(seed)
    grey = np.clip(rng.normal(90, 25, (size, size)), 0, 255)
    rows, cols = np.mgrid[:size, :size]
    grey[(rows - size / 2) ** 2 + (cols - size / 2 - seed % 20) ** 2 < (size / 5) ** 2] = 200
    return np.repeat(grey.astype(np.uint8)[:, :, None], 3, axis=2)


def make_vitb(folder: Path) -> Path:
    import torch
    from transformers import SamConfig, SamModel

    torch.manual_seed(0)
    SamModel(SamConfig()).save_pretrained(folder)  # random weights, ViT-B sizes
    return folder


def start_server(models: list[str], tokens_file: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "medsam_gui", "serve", "--device", "cpu", "--port", str(port),
               "--tokens", str(tokens_file), "--rate", "1000", "--burst", "1000"]
    for model in models:
        command += ["--model", model]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    from medsam_gui.engine.remote import EncoderServiceClient, ServiceUnavailable

    client = EncoderServiceClient(f"http://127.0.0.1:{port}", timeout_s=5)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited: {server.stdout.read()}")
        try:
            client.health()
            return server
        except ServiceUnavailable:
            time.sleep(0.5)
    raise SystemExit("server did not start")


def per_embedding(backend, client, image: np.ndarray, repeats: int) -> dict:
    backend.encode(image)  # warm-up
    client.encode(image, backend.name, backend.preprocessing_signature)
    local, remote, overhead = [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        backend.features_to_array(backend.encode(image).features).astype(np.float16)
        local.append(time.perf_counter() - started)
        started = time.perf_counter()
        features, _, _ = client.encode(image, backend.name, backend.preprocessing_signature)
        remote.append(time.perf_counter() - started)
        # what the service adds around the encoder: the round trip minus the server's own pass
        overhead.append(remote[-1] - client.last_server_encode_ms / 1000)
    return {"local_s": statistics.median(local), "remote_s": statistics.median(remote),
            "overhead_ms": statistics.median(overhead) * 1000, "up": client.last_request_bytes,
            "down": client.last_response_bytes, "raw": features.nbytes, "shape": features.shape}


def load_test(url: str, tokens: list[str], backend, clients: int, requests: int, size: int) -> dict:
    from medsam_gui.engine.remote import EncoderServiceClient, ServiceError, WireFormatError

    images = [slice_image(size, seed) for seed in range(16)]
    latencies, errors = [], []

    def one_client(index: int) -> None:
        client = EncoderServiceClient(url, tokens[index], timeout_s=600)
        for request in range(requests):
            started = time.perf_counter()
            try:
                client.encode(images[(index + request) % len(images)], backend.name, backend.preprocessing_signature)
            except (ServiceError, WireFormatError) as error:
                errors.append(str(error))
                continue
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(one_client, range(clients)))
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"n": len(latencies), "errors": len(errors), "first_error": errors[:1], "wall_s": wall,
            "p50_s": ordered[len(ordered) // 2] if ordered else float("nan"),
            "p95_s": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else float("nan")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--size", type=int, default=512, help="slice side in pixels")
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--skip-vitb", action="store_true")
    parser.add_argument("--load-model", choices=("litemedsam", "tiny"), default="litemedsam")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-server-"))
    os.environ.setdefault("MEDSAM_GUI_CONFIG_DIR", str(work / "config"))
    import torch

    from medsam_gui.engine.models import load_backend
    from medsam_gui.engine.remote import EncoderServiceClient
    from medsam_gui.serve.tokens import TokenStore

    store = TokenStore(work / "tokens.json")
    tokens = [store.add(f"client{index}") for index in range(args.clients)]
    models = ["litemedsam"]
    backends = {"LiteMedSAM": load_backend("litemedsam", device="cpu")}
    if not args.skip_vitb:
        folder = make_vitb(work / "sam-vitb-random")
        models.append(str(folder))
        backends["SAM ViT-B (random)"] = load_backend(str(folder), device="cpu")
    load_backend_name = "LiteMedSAM"
    if args.load_model == "tiny":
        sys.path.insert(0, str(REPO / "tests" / "engine"))
        from engine_testkit import randomise, tiny_sam_config
        from transformers import SamModel

        tiny = SamModel(tiny_sam_config())
        randomise(tiny, seed=3)
        tiny.save_pretrained(work / "tiny-sam")
        models.append(str(work / "tiny-sam"))
        load_backend_name = "tiny SAM (64 px, random)"
        backends[load_backend_name] = load_backend(str(work / "tiny-sam"), device="cpu")
    server = start_server(models, store.path, args.port)
    url = f"http://127.0.0.1:{args.port}"
    try:
        image = slice_image(args.size, 0)
        rows = []
        for label, backend in backends.items():
            if label.startswith("tiny"):
                continue
            client = EncoderServiceClient(url, tokens[0], timeout_s=600)
            rows.append((label, per_embedding(backend, client, image, args.repeats)))
        memory_before = rss_mb(server.pid)
        load = load_test(url, tokens, backends[load_backend_name], args.clients, args.requests, args.size)
        memory_after = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(30)

    print(f"\nEncoder service on loopback, CPU only ({os.cpu_count()} cores, torch {torch.get_num_threads()} threads), "
          f"{args.size} x {args.size} slice, median of {args.repeats}")
    print(f"| model | in process (s) | through the service (s) | service overhead (ms) | up (KiB) | down (KiB) | raw fp16 (KiB) | down/raw |")
    print("|---|---|---|---|---|---|---|---|")
    for label, row in rows:
        print(f"| {label} | {row['local_s']:.3f} | {row['remote_s']:.3f} | {row['overhead_ms']:.0f} | "
              f"{row['up'] / 1024:.0f} | {row['down'] / 1024:.0f} | {row['raw'] / 1024:.0f} | {row['down'] / row['raw']:.2f} |")
    print(f"\nLoad test, {load_backend_name}: {args.clients} clients x {args.requests} requests")
    print("| requests | errors | p50 (s) | p95 (s) | throughput (/s) | server RSS before (MB) | after (MB) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {load['n']} | {load['errors']} | {load['p50_s']:.3f} | {load['p95_s']:.3f} | {load['n'] / load['wall_s']:.1f} | "
          f"{memory_before:.0f} | {memory_after:.0f} |")
    if load["errors"]:
        print(f"first error: {load['first_error']}")
    return 1 if load["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
