"""Export a model's networks to ONNX once per weights file, and find the export again.

What is exported (opset 17, ``torch.onnx.export``'s TorchScript exporter: its graphs
ran 15-25 % faster under ONNX Runtime than the torch.export-based exporter's on the
LiteMedSAM encoder, with the same outputs; the torch.export one is used when the
TorchScript one is gone):

* the image encoder as a chain of **stage graphs**, one per network block (a merge or
  the neck rides with the block before it): LiteMedSAM's TinyViT in 12 graphs, a SAM /
  MedSAM ViT in one graph per ViT layer. An ONNX Runtime session runs a graph in one
  uninterruptible call, so the backend calls the engine's ``between_blocks`` between
  these graphs: a background pass can still pause for the user, at about the places
  the torch encoder pauses (11 of its 16 points on LiteMedSAM). The split costs
  little (the tensors stay in ONNX Runtime's memory; measured in
  ``benchmarks/bench_onnx.py``).
* the decoder as two graphs, as :class:`FastSamDecoder` splits it: ``decoder_image``
  (embedding + optional mask prompt -> the prompt-independent first-block
  projections, computed once per embedding) and ``decoder_prompt`` (points / box as
  SAM's ONNX convention: coordinates ``[1, N, 2]`` in model-input pixels, labels
  ``[1, N]`` 1 positive, 0 negative, -1 padding, 2 / 3 box corners, and the grid
  window to upscale as int64 row and column indices -> the window's low-res logits
  and the predicted IoU; N and the window are dynamic).

Where: ``user_cache_dir()/onnx/<key>/``, ``key`` a digest of the weights' SHA-256, the
model kind, the export format, the opset, and the torch and onnxruntime versions, so
a new weights file or a new exporter / runtime exports again and never reuses a stale
graph. Before that, the read-only **bundled exports** folder (:func:`bundled_export_root`:
the desktop package ships LiteMedSAM's export there, made by
``packaging/export_onnx.py`` at build time) is looked up under the same key, so a
first start of the package exports nothing; a bundled export whose key does not match
(other weights, torch or onnxruntime) is simply not found, and the export is made
into the user cache as without one. An export is built in a hidden
``.<key>.partial-<pid>-<random>`` folder and published by renaming the whole folder;
``manifest.json`` (written last) lists every file with its size, and a folder whose
manifest is missing or whose files do not match it is never loaded (it is exported
again). A killed export leaves only a partial folder, which no load ever reads and a
later export removes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.paths import user_cache_dir

# part of the export key: raise it whenever the graphs this module builds change (the
# modules below, or the network code they trace), so no cached or bundled export is reused
EXPORT_FORMAT_VERSION = "3"  # 2: decoder_prompt takes a grid window, factorized attention; 3: channels-last upscaling (issue 14)
# part of the export key of SAM / MedSAM ViT models only: raise it whenever their encoder
# stage graphs change (vit_encoder_stages, engine/models/fast_vit.py), apart from the version above
VIT_ENCODER_FORMAT = "2"  # 2: FastVitLayer, qkv / proj on the real tokens of windowed layers (issue 14)
# the bundled exports: $MEDSAM_GUI_BUNDLED_ONNX_DIR, else this folder inside a frozen app
BUNDLED_EXPORTS_ENV = "MEDSAM_GUI_BUNDLED_ONNX_DIR"
BUNDLED_EXPORTS_FOLDER = "onnx-exports"
OPSET = 17
MANIFEST = "manifest.json"
STALE_PARTIAL_S = 6 * 3600  # a partial folder this old belongs to a dead export

# progress(step_text, done, total): called before each graph is exported and once at the end
ExportProgress = Callable[[str, int, int], None]


def stderr_progress(step: str, done: int, total: int) -> None:
    """The default export reporter: one line per graph on stderr."""
    print(f"[medsam-gui] ONNX export (once per weights file): {step} ({done}/{total})", file=sys.stderr, flush=True)


@dataclass
class GraphSpec:
    """One graph to export: ``module(*example_inputs)`` traced to ``<name>.onnx``."""

    name: str
    module: object  # torch.nn.Module
    example_inputs: tuple
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_axes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ExportedModel:
    """A published export: its folder and manifest (``meta``: what the exporter recorded)."""

    folder: Path
    manifest: dict

    @property
    def meta(self) -> dict:
        return self.manifest.get("meta", {})

    def path(self, graph_name: str) -> Path:
        return self.folder / f"{graph_name}.onnx"

    def graphs(self, prefix: str) -> list[Path]:
        """The graph files whose name starts with ``prefix``, in export order."""
        return [self.path(name) for name in self.manifest["order"] if name.startswith(prefix)]


def runtime_versions() -> dict[str, str]:
    import onnxruntime
    import torch

    return {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__}


def export_key(weights_sha256: str, model_kind: str) -> tuple[str, str]:
    """(folder key, the text it digests) for these weights, model kind and versions."""
    versions = runtime_versions()
    vit = f"|vit encoder {VIT_ENCODER_FORMAT}" if model_kind.startswith("sam-vit") else ""
    text = (f"format {EXPORT_FORMAT_VERSION}{vit}|opset {OPSET}|{model_kind}|weights sha256 {weights_sha256}"
            f"|torch {versions['torch']}|onnxruntime {versions['onnxruntime']}")
    return hashlib.sha256(text.encode()).hexdigest()[:32], text


def export_root() -> Path:
    folder = user_cache_dir() / "onnx"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def bundled_export_root() -> Path | None:
    """The read-only folder of exports shipped with the app: ``$MEDSAM_GUI_BUNDLED_ONNX_DIR``
    when set, else ``onnx-exports/`` in a PyInstaller package's data folder
    (``sys._MEIPASS``); None when neither (a source install)."""
    override = os.environ.get(BUNDLED_EXPORTS_ENV)
    if override:
        return Path(override)
    frozen_data = getattr(sys, "_MEIPASS", None)
    return Path(frozen_data) / BUNDLED_EXPORTS_FOLDER if frozen_data else None


def find_export(key: str) -> ExportedModel | None:
    """The export ``key``, bundled with the app or published in the user cache (in that
    order), if it is whole; else None."""
    for root in (bundled_export_root(), export_root()):
        if root is not None and (found := read_export(root / key)) is not None:
            return found
    return None


def read_export(folder: Path) -> ExportedModel | None:
    """The export in ``folder`` (its name is the key) if it is whole: manifest present,
    naming that key, every file the size the manifest says; else None."""
    key = folder.name
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        for name, size in manifest["files"].items():
            if (folder / name).stat().st_size != int(size):
                return None
        if manifest.get("key") != key:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return ExportedModel(folder, manifest)


def _remove_stale_partials(root: Path) -> None:
    now = time.time()
    for entry in root.glob(".*.partial-*"):
        try:
            if now - entry.stat().st_mtime > STALE_PARTIAL_S:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


def export_graph(spec: GraphSpec, path: Path) -> None:
    """Trace ``spec.module`` to the ONNX file ``path`` (see the module docstring)."""
    import torch

    arguments = dict(opset_version=OPSET, input_names=list(spec.input_names), output_names=list(spec.output_names),
                     dynamic_axes=spec.dynamic_axes or None, do_constant_folding=True)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(spec.module, spec.example_inputs, str(path), dynamo=False, **arguments)
        except TypeError:  # a torch without the ``dynamo`` switch (< 2.5): TorchScript is its only exporter
            torch.onnx.export(spec.module, spec.example_inputs, str(path), **arguments)
        except (RuntimeError, NotImplementedError) as error:
            if "legacy" not in str(error).lower() and "torchscript" not in str(error).lower():
                raise
            torch.onnx.export(spec.module, spec.example_inputs, str(path), dynamo=True, **arguments)


def ensure_export(key: str, key_text: str, build_specs: Callable[[], list[GraphSpec]], meta: dict,
                  progress: ExportProgress | None = None, into: Path | None = None) -> tuple[ExportedModel, bool]:
    """The export ``key``, made now from ``build_specs()`` if it is not there (or not whole).

    Looked up and made in ``into`` when given (the packaging step fills the bundled
    exports folder so), else found by :func:`find_export` and made in the user cache.
    Returns (export, True when it was exported by this call). ``meta`` is stored in the
    manifest (what the backend needs without the torch model: input size, ...).
    Raises MedsamGuiError when the export fails; nothing is published then.
    """
    existing = find_export(key) if into is None else read_export(into / key)
    if existing is not None:
        return existing, False
    report = progress or stderr_progress
    root = export_root() if into is None else into
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(root)
    staging = root / f".{key}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        report("preparing the networks", 0, 1)
        specs = build_specs()
        files: dict[str, int] = {}
        for index, spec in enumerate(specs):
            report(f"exporting {spec.name}", index, len(specs))
            target = staging / f"{spec.name}.onnx"
            export_graph(spec, target)
            files[target.name] = target.stat().st_size
        manifest = {"key": key, "key_text": key_text, "order": [spec.name for spec in specs], "files": files,
                    "meta": meta, "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **runtime_versions()}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        _publish(staging, root / key)
        report("done", len(specs), len(specs))
    except Exception as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, MedsamGuiError):
            raise
        raise MedsamGuiError(f"ONNX export failed ({error.__class__.__name__}: {str(error)[:300]})") from error
    published = read_export(root / key)
    if published is None:
        raise MedsamGuiError("ONNX export was written but does not read back whole", root / key)
    return published, True


def _publish(staging: Path, final: Path) -> None:
    """Rename the finished ``staging`` folder to ``final`` (an export that is not whole
    is moved aside first; one another process published meanwhile wins)."""
    if final.exists():
        if read_export(final) is not None:
            shutil.rmtree(staging, ignore_errors=True)
            return
        broken = final.with_name(f".{final.name}.partial-broken-{uuid.uuid4().hex[:8]}")
        os.replace(final, broken)
        shutil.rmtree(broken, ignore_errors=True)
    try:
        os.replace(staging, final)
    except OSError:
        if read_export(final) is None:
            raise
        shutil.rmtree(staging, ignore_errors=True)


# -- SHA-256 of weights files, remembered by path, size and mtime ------------------------


def remembered_sha256(files: list[Path]) -> str:
    """SHA-256 over the contents of ``files`` (sorted by name), hashed once per file
    version: the digest is remembered in the user cache by path, size and mtime."""
    from medsam_gui.engine.models.checksum import file_sha256

    folder = user_cache_dir() / "verified"
    folder.mkdir(parents=True, exist_ok=True)
    combined = hashlib.sha256()
    for path in sorted(Path(f) for f in files):
        stat = path.stat()
        stamp = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        record = folder / f"sha-{hashlib.sha256(stamp.encode()).hexdigest()[:32]}.txt"
        try:
            digest = record.read_text().strip()
        except OSError:
            digest = ""
        if len(digest) != 64:
            digest = file_sha256(path)
            temporary = record.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(digest)
            os.replace(temporary, record)
        combined.update(f"{path.name}:{digest}|".encode())
    return combined.hexdigest()


# -- the graphs -------------------------------------------------------------------------


def _torch_modules():
    """nn.Module wrappers, defined on first use so importing this module needs no torch."""
    import torch
    from torch import nn

    from medsam_gui.engine.models.fast_decoder import FastSamDecoder, FirstBlockKeys, two_way_transformer, window_logits
    from medsam_gui.engine.models.tiny_vit import tokens_to_map

    class Sequence(nn.Module):
        """Run ``parts`` in order: one encoder stage graph."""

        def __init__(self, parts) -> None:
            super().__init__()
            self.parts = nn.ModuleList(parts)

        def forward(self, x):
            for part in self.parts:
                x = part(x)
            return x

    class TokensToNeck(nn.Module):
        """TinyViT tokens ``[1, H * W, C]`` -> neck -> ``[1, 256, H, W]``."""

        def __init__(self, neck, resolution: int) -> None:
            super().__init__()
            self.neck = neck
            self.resolution = resolution

        def forward(self, tokens):
            return self.neck(tokens_to_map(tokens, self.resolution))

    class VitStart(nn.Module):
        """transformers SamVisionEncoder: patch embedding + absolute positions."""

        def __init__(self, encoder) -> None:
            super().__init__()
            self.patch_embed = encoder.patch_embed
            self.pos_embed = encoder.pos_embed

        def forward(self, pixels):
            hidden = self.patch_embed(pixels)
            return hidden if self.pos_embed is None else hidden + self.pos_embed

    class DecoderImage(nn.Module):
        """(features ``[1, C, E, E]``, mask logits ``[1, 1, 4E, 4E]``, has_mask ``[1]``) ->
        the four :class:`FirstBlockKeys` tensors of that image."""

        def __init__(self, decoder: FastSamDecoder) -> None:
            super().__init__()
            self.mask_downscaling = decoder.prompt_encoder.mask_downscaling
            self.transformer = decoder.mask_decoder.transformer
            self.register_buffer("dense_pe", decoder.dense_pe.clone())
            self.register_buffer("no_mask_dense", decoder.no_mask_dense.clone())

        def forward(self, features, mask_logits, has_mask):
            dense = has_mask * self.mask_downscaling(mask_logits) + (1.0 - has_mask) * self.no_mask_dense
            first = FirstBlockKeys.compute(self.transformer, features + dense, self.dense_pe)
            return first.keys, first.token_to_image_k, first.token_to_image_v, first.image_to_token_q

    class DecoderPrompt(nn.Module):
        """Prompt points ``[1, N, 2]`` + labels ``[1, N]``, the window's grid rows ``[r]``
        and columns ``[c]`` (int64) and the first-block tensors -> (low-res logits of the
        window ``[4r, 4c]``, predicted IoU ``[1]``); FastSamDecoder's arithmetic."""

        def __init__(self, decoder: FastSamDecoder) -> None:
            super().__init__()
            prompt, mask = decoder.prompt_encoder, decoder.mask_decoder
            self.pe_layer = prompt.pe_layer
            self.input_size_hw = tuple(prompt.input_image_size)
            self.register_buffer("not_a_point", prompt.not_a_point_embed.weight.clone())
            self.register_buffer("label_embeddings", torch.cat([e.weight for e in prompt.point_embeddings]).clone())
            self.register_buffer("output_tokens", decoder.output_tokens.clone())
            self.register_buffer("key_pe", decoder.key_pe.clone())
            self.transformer = mask.transformer
            self.upscaling = decoder.upscaling
            self.hypernetwork = decoder.hypernetwork
            self.iou_head = mask.iou_prediction_head
            self.grid_size = decoder.grid_size

        def forward(self, point_coords, point_labels, window_rows, window_cols, keys, token_to_image_k, token_to_image_v,
                    image_to_token_q):
            embedding = self.pe_layer.forward_with_coords(point_coords + 0.5, self.input_size_hw)
            labels = point_labels[..., None]
            embedding = torch.where(labels == -1, self.not_a_point, embedding)
            for index in range(4):
                embedding = embedding + (labels == index).to(embedding.dtype) * self.label_embeddings[index]
            tokens = torch.cat([self.output_tokens, embedding], dim=1)
            first = FirstBlockKeys(keys, token_to_image_k, token_to_image_v, image_to_token_q)
            used_tokens, image_keys = two_way_transformer(self.transformer, tokens, first, self.key_pe)
            logits = window_logits(self.upscaling, self.hypernetwork(used_tokens[:, 1, :]), image_keys, self.grid_size,
                                   window_rows, window_cols)
            return logits, self.iou_head(used_tokens[:, 0, :])[:, 0]

    return Sequence, TokensToNeck, VitStart, DecoderImage, DecoderPrompt


def lite_medsam_encoder_stages(encoder) -> list:
    """TinyViTEncoder -> 12 stage modules (see the module docstring), tokens or maps between."""
    Sequence, TokensToNeck, *_ = _torch_modules()
    atoms: list[list] = []  # each: the modules of one stage
    conv_stage = encoder.layers[0]
    atoms.append([encoder.patch_embed, conv_stage.blocks[0]])
    for block in list(conv_stage.blocks)[1:]:
        atoms.append([block])
    atoms[-1].append(conv_stage.downsample)
    for stage in list(encoder.layers)[1:]:
        for block in stage.blocks:
            atoms.append([block])
        if stage.downsample is not None:
            atoms[-1].append(stage.downsample)
    atoms[-1].append(TokensToNeck(encoder.neck, encoder.output_resolution))
    return [Sequence(parts).eval() for parts in atoms]


def vit_encoder_stages(vision_encoder) -> list:
    """transformers SamVisionEncoder -> one stage per ViT layer (patch embedding with the
    first, neck with the last), each layer as its exact rewrite :class:`FastVitLayer`."""
    from medsam_gui.engine.models.fast_vit import FastVitLayer

    Sequence, _, VitStart, *_ = _torch_modules()
    layers = [FastVitLayer(layer) for layer in vision_encoder.layers]
    stages = [[VitStart(vision_encoder), layers[0]]] + [[layer] for layer in layers[1:]]
    stages[-1].append(vision_encoder.neck)
    return [Sequence(parts).eval() for parts in stages]


def encoder_specs(stages: list, input_size: int) -> list[GraphSpec]:
    """GraphSpecs ``encoder_00`` .. for a chain of stage modules fed ``[1, 3, S, S]``."""
    import torch

    specs = []
    example = torch.rand(1, 3, input_size, input_size)
    with torch.no_grad():
        for index, stage in enumerate(stages):
            specs.append(GraphSpec(f"encoder_{index:02d}", stage, (example,), ("input",), ("output",)))
            example = stage(example)
    return specs


def decoder_specs(prompt_encoder, mask_decoder) -> list[GraphSpec]:
    """``decoder_image`` and ``decoder_prompt`` for these SAM heads (any size)."""
    import torch

    from medsam_gui.engine.models.fast_decoder import FastSamDecoder

    *_, DecoderImage, DecoderPrompt = _torch_modules()
    decoder = FastSamDecoder(prompt_encoder, mask_decoder, torch.device("cpu"))
    embed_dim = decoder.dense_pe.shape[1]
    size = decoder.grid_size
    image_graph = DecoderImage(decoder).eval()
    features = torch.randn(1, embed_dim, size, size)
    mask = torch.randn(1, 1, 4 * size, 4 * size)
    has_mask = torch.ones(1)
    with torch.no_grad():
        first = image_graph(features, mask, has_mask)
    first_names = ("keys", "token_to_image_k", "token_to_image_v", "image_to_token_q")
    prompt_graph = DecoderPrompt(decoder).eval()
    input_size = float(prompt_encoder.input_image_size[0])
    coords = torch.tensor([[[0.3, 0.4], [0.1, 0.2], [0.6, 0.7]]]) * input_size
    labels = torch.tensor([[1.0, 2.0, 3.0]])
    rows, cols = torch.arange(1, size - 1), torch.arange(0, size - 1)  # a window smaller than the grid
    return [
        GraphSpec("decoder_image", image_graph, (features, mask, has_mask), ("features", "mask_logits", "has_mask"), first_names),
        GraphSpec("decoder_prompt", prompt_graph, (coords, labels, rows, cols, *first),
                  ("point_coords", "point_labels", "window_rows", "window_cols", *first_names), ("window_logits", "iou"),
                  {"point_coords": {1: "points"}, "point_labels": {1: "points"}, "window_rows": {0: "rows"},
                   "window_cols": {0: "cols"}, "window_logits": {0: "height", 1: "width"}}),
    ]
