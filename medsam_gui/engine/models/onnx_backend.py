"""ONNX Runtime backends for LiteMedSAM and SAM / MedSAM (ViT, through transformers).

Same contract as the torch backends (``encode(image, between_blocks=None) ->
Embedding``, ``decode(embedding, prompts) -> (logits float32 [L, L], iou)``,
``features_to_array``, ``features_from_array``, ``mask_from_logits``,
``reframe_logits``, ``frame_for``, ``info``, ``model_id``,
``preprocessing_signature``, ``mask_threshold_logit``), the same preprocessing (the
torch backend's own ``preprocess`` functions, so both see identical pixels), the same
arithmetic exported from the same modules (:mod:`onnx_export`). The torch backend
stays the reference and the fallback: the tests hold this one to it (embedding within
1e-4, masks Dice >= 0.998 on real slices).

``model_id`` is the torch backend's: the embeddings are the same within float
rounding, so the embedding cache and an encoder service are shared between the two.

Execution providers, in order of preference, whichever this onnxruntime build has:
CUDA, DirectML, CoreML, then OpenVINO's CPU plugin when the ``openvino`` package is
installed (:mod:`openvino_session`; it runs the same graph files, for the ViT encoders
only, see ``openvino_encoder``), then CPU. A provider that fails to start (an exception,
or onnxruntime quietly dropping it to CPU) is skipped for the next one, and the reason
is kept in ``provider_failures``. The decoder graphs always run on an ONNX Runtime
provider. ``info.device`` names what runs, e.g. ``"onnxruntime CPUExecutionProvider"``,
or ``"OpenVINO CPU encoder, onnxruntime CPUExecutionProvider decoder"``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.engine.models.decoder_window import UPSCALE, GridWindow
from medsam_gui.engine.models.openvino_session import OPENVINO_CPU, OpenVinoSession, openvino_installed
from medsam_gui.engine.models.per_object_cache import PerObjectCache
from medsam_gui.engine.models.postprocess import LogitPostprocessing
from medsam_gui.engine.types import Embedding, ModelInfo, Prompts

CPU_PROVIDER = "CPUExecutionProvider"
PROVIDER_PREFERENCE = ("CUDAExecutionProvider", "DmlExecutionProvider", "CoreMLExecutionProvider", OPENVINO_CPU, CPU_PROVIDER)
# --device names -> provider
PROVIDER_OF_DEVICE = {
    "onnx-cuda": "CUDAExecutionProvider",
    "onnx-dml": "DmlExecutionProvider",
    "onnx-coreml": "CoreMLExecutionProvider",
    "onnx-openvino": OPENVINO_CPU,
    "onnx-cpu": CPU_PROVIDER,
}
GPU_PROVIDERS = PROVIDER_PREFERENCE[:3]


def onnxruntime_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def available_providers() -> list[str]:
    """The providers this onnxruntime build offers that the app uses, with OpenVINO's CPU
    plugin when ``openvino`` is installed, in preference order ([] when onnxruntime is
    not installed: the decoders need it)."""
    if not onnxruntime_installed():
        return []
    import onnxruntime

    offered = set(onnxruntime.get_available_providers())
    if openvino_installed():
        offered.add(OPENVINO_CPU)
    return [name for name in PROVIDER_PREFERENCE if name in offered]


def providers_for_device(device: str) -> list[str]:
    """Providers to try, in order, for a ``--device`` value: 'onnx' (all available) or
    'onnx-<provider>' (that one, then CPU). MedsamGuiError when not available here."""
    available = available_providers()
    if not available:
        raise MedsamGuiError(f"device {device!r} needs onnxruntime, which is not installed (pip install onnxruntime)")
    if device == "onnx":
        return available
    provider = PROVIDER_OF_DEVICE[device]
    if provider not in available:
        missing = "the openvino package is not installed" if provider == OPENVINO_CPU else f"this onnxruntime has no {provider}"
        raise MedsamGuiError(f"device {device!r}: {missing} (available: {', '.join(available)})")
    return [provider] if provider == CPU_PROVIDER else [provider, CPU_PROVIDER]


_shared_arena_lock = threading.Lock()
_shared_arena: list[bool] = []  # [registered?] once tried


def shared_cpu_arena() -> bool:
    """Register one process-wide CPU memory arena for every session (once). Separate
    arenas each keep their session's peak activations: across the stage sessions of a
    ViT-B encoder that added up to more than 20 GB; a shared one holds the largest
    stage's peak only, at the arena's speed (a session without an arena encoded
    LiteMedSAM about 1.4x slower). False when this onnxruntime cannot."""
    with _shared_arena_lock:
        if not _shared_arena:
            import onnxruntime

            try:
                memory = onnxruntime.OrtMemoryInfo("Cpu", onnxruntime.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0,
                                                   onnxruntime.OrtMemType.DEFAULT)
                onnxruntime.create_and_register_allocator(memory, onnxruntime.OrtArenaCfg(0, -1, -1, -1))
                _shared_arena.append(True)
            except Exception:  # an onnxruntime without environment allocators
                _shared_arena.append(False)
        return _shared_arena[0]


def session_options(intra_op_threads: int | None = None, memory_arena: bool = True):
    """Options for one session: the app's thread count, no spinning, the shared CPU
    arena (:func:`shared_cpu_arena`); without it, ``memory_arena`` (False for the
    encoder stages, so their buffers are freed after each stage)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    if intra_op_threads is None:
        import torch

        intra_op_threads = torch.get_num_threads()  # the app's one thread setting governs both runtimes
    options.intra_op_num_threads = max(int(intra_op_threads), 1)
    # many sessions (one per encoder stage) run one after another: idle pools must not spin
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    if shared_cpu_arena():
        options.add_session_config_entry("session.use_env_allocators", "1")
    else:
        options.enable_cpu_mem_arena = memory_arena
    return options


def _default_session_factory(path: Path, provider: str, options):
    if provider == OPENVINO_CPU:
        return OpenVinoSession(path, threads=options.intra_op_num_threads)
    import onnxruntime

    providers = [provider] if provider == CPU_PROVIDER else [provider, CPU_PROVIDER]
    return onnxruntime.InferenceSession(str(path), options, providers=providers)


def open_sessions(paths: list[Path], providers: list[str], options=None, session_factory=None):
    """Sessions for every graph in ``paths`` on the first provider in ``providers`` that
    starts for all of them (ONNX Runtime's, or :data:`OPENVINO_CPU`); ``options``: their
    SessionOptions (OpenVINO reads its thread count). Returns (sessions, provider,
    failures {provider: reason}).

    A provider fails when creating a session raises, or when onnxruntime falls back
    to CPU without it (``session.get_providers()`` lacks it). MedsamGuiError when none starts.
    """
    factory = session_factory or _default_session_factory
    options = options if options is not None else session_options()
    failures: dict[str, str] = {}
    for provider in providers:
        try:
            sessions = []
            for path in paths:
                session = factory(path, provider, options)
                if provider not in session.get_providers():
                    raise RuntimeError(f"onnxruntime did not start it (running on {', '.join(session.get_providers())})")
                sessions.append(session)
            return sessions, provider, failures
        except Exception as error:  # onnxruntime raises its own (Fail, RuntimeException, ...) types
            failures[provider] = f"{error.__class__.__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:300]
    reasons = "; ".join(f"{name}: {reason}" for name, reason in failures.items())
    raise MedsamGuiError(f"no ONNX Runtime provider could run the model ({reasons})")


def without_openvino(providers: list[str]) -> list[str]:
    """``providers`` less OpenVINO's CPU plugin (the CPU provider when nothing is left)."""
    return [provider for provider in providers if provider != OPENVINO_CPU] or [CPU_PROVIDER]


def runtime_label(provider: str) -> str:
    """What the user reads for a provider: ``"onnxruntime CPUExecutionProvider"``, ``"OpenVINO CPU"``."""
    return provider if provider == OPENVINO_CPU else f"onnxruntime {provider}"


class OnnxBackend(LogitPostprocessing):
    """A model run by ONNX Runtime; owns sessions and preprocessing, no image state.

    Embedding features are a float32 numpy array ``[1, C, E, E]``.

    ``providers``: to try in order. The encoder runs on the first that starts for all its
    stage graphs, OpenVINO's CPU plugin included only with ``openvino_encoder`` (the ViT
    encoders, which it runs faster); the decoders on the first ONNX Runtime provider of
    the list that starts. ``provider`` is the encoder's, ``decoder_provider`` the decoders'.
    """

    def __init__(self, export, providers: list[str], *, name: str, display_name: str, model_id: str,
                 preprocessing_signature: str, preprocess, frame_for, licence: str, source: str,
                 mask_threshold_logit: float = 0.0, session_factory=None, openvino_encoder: bool = False) -> None:
        self.export = export
        encoder_paths = export.graphs("encoder_")
        decoder_paths = [export.path("decoder_image"), export.path("decoder_prompt")]
        # see session_options: without a shared arena the encoder stages free their buffers
        self.encoder_sessions, provider, failures = open_sessions(
            encoder_paths, providers if openvino_encoder else without_openvino(providers),
            session_options(memory_arena=False), session_factory)
        decoder_sessions, self.decoder_provider, decoder_failures = open_sessions(
            decoder_paths, without_openvino(providers), session_options(), session_factory)
        self.decoder_image_session, self.decoder_prompt_session = decoder_sessions
        self.provider = provider
        self.provider_failures = {**decoder_failures, **failures}
        self.name = name
        self.model_id = model_id
        self.preprocessing_signature = preprocessing_signature
        self.mask_threshold_logit = mask_threshold_logit
        self._preprocess = preprocess
        self._frame_for = frame_for
        meta = export.meta
        self.input_size = int(meta["input_size"])
        self.lowres_size = int(meta["lowres_size"])
        self.device = (f"onnxruntime {provider}" if provider == self.decoder_provider
                       else f"{runtime_label(provider)} encoder, {runtime_label(self.decoder_provider)} decoder")
        self.info = ModelInfo(name=name, display_name=display_name, device=self.device, licence=licence, source=source,
                              input_size=self.input_size)
        self._first_blocks: PerObjectCache[dict] = PerObjectCache()  # features -> their first block
        self._interrupt_lock = threading.Lock()
        self._interruptible_run = None  # the RunOptions of a stage interrupt_encode may stop
        self._no_mask = (np.zeros((1, 1, self.lowres_size, self.lowres_size), np.float32), np.zeros(1, np.float32))
        self._first_block_names = [output.name for output in self.decoder_image_session.get_outputs()]

    def frame_for(self, image_size_hw: tuple[int, int]):
        return self._frame_for(image_size_hw)

    def encode(self, image_rgb_uint8: np.ndarray, between_blocks=None) -> Embedding:
        """uint8 ``[H, W, 3]`` -> Embedding, features float32 numpy ``[1, C, E, E]``.

        ``between_blocks``: None (a pass that never waits) or a callable run between the
        encoder's stage graphs; such a pass can also be stopped in the middle of a stage
        (:meth:`interrupt_encode`).
        """
        pixels, frame = self._preprocess(image_rgb_uint8)
        values = np.ascontiguousarray(pixels.numpy(), dtype=np.float32)
        for index, session in enumerate(self.encoder_sessions):
            if between_blocks is None:
                values = session.run(None, {"input": values})[0]
            else:
                values = self._run_stage_giving_way(session, values, between_blocks, wait_first=index > 0)
        return Embedding(values, frame)

    def interrupt_encode(self) -> None:
        """Stop the stage graph that a pass which gives way (``encode`` with
        ``between_blocks``) is running, at its next node (ONNX Runtime's
        ``RunOptions.terminate``); the pass then calls ``between_blocks`` and runs that
        stage again. Any thread, quick; a no-op when no such stage runs."""
        with self._interrupt_lock:
            if self._interruptible_run is not None:
                self._interruptible_run.terminate = True

    def _run_stage_giving_way(self, session, values: np.ndarray, between_blocks, wait_first: bool) -> np.ndarray:
        """One encoder stage of a pass that gives way: ``between_blocks()`` first (with
        ``wait_first``), then the run, which :meth:`interrupt_encode` may stop; a stopped
        stage waits in ``between_blocks()`` and runs again. A stage is stopped at most once,
        so a pass always finishes and loses at most one run of each stage (in practice
        part of one)."""
        import onnxruntime

        run_options = onnxruntime.RunOptions()
        with self._interrupt_lock:
            self._interruptible_run = run_options
        try:
            while True:
                if wait_first:
                    between_blocks()
                wait_first = True
                with self._interrupt_lock:  # an interrupt while waiting stopped nothing: wait again
                    interrupted_while_waiting, run_options.terminate = run_options.terminate, False
                if interrupted_while_waiting:
                    continue
                try:
                    return session.run(None, {"input": values}, run_options)[0]
                except Exception:  # onnxruntime's own Fail type when stopped
                    if not run_options.terminate:
                        raise
                with self._interrupt_lock:
                    self._interruptible_run = None
                    run_options.terminate = False
        finally:
            with self._interrupt_lock:
                self._interruptible_run = None

    def features_to_array(self, features: np.ndarray) -> np.ndarray:
        """Embedding features -> float32 ``[1, C, E, E]`` (they are that already)."""
        return np.asarray(features, dtype=np.float32)

    def features_from_array(self, array: np.ndarray) -> np.ndarray:
        """Cached fp16 ``[1, C, E, E]`` array -> float32 features."""
        return np.ascontiguousarray(array, dtype=np.float32)

    def _first_block(self, features) -> dict:
        return self._first_blocks.get(features, lambda: self._image_side(features, *self._no_mask))

    def _image_side(self, features, mask_logits: np.ndarray, has_mask: np.ndarray) -> dict:
        array = np.ascontiguousarray(features, dtype=np.float32)
        outputs = self.decoder_image_session.run(None, {"features": array, "mask_logits": mask_logits, "has_mask": has_mask})
        return dict(zip(self._first_block_names, outputs))

    def prompt_arrays(self, frame, prompts: Prompts) -> tuple[np.ndarray, np.ndarray]:
        """SAM ONNX prompt convention: coordinates float32 ``[1, N, 2]`` in model-input
        pixels and labels float32 ``[1, N]``: points (1 / 0), then the box corners
        (2, 3), or a padding point (-1) when there is no box."""
        coords, labels = [], []
        if prompts.points_xy is not None and len(prompts.points_xy):
            coords.append(frame.to_model_xy(prompts.points_xy).reshape(-1, 2))
            labels.append(np.asarray(prompts.point_labels, dtype=np.float64).reshape(-1))
        if prompts.box_xyxy is not None:
            coords.append(frame.box_to_model(prompts.box_xyxy).reshape(2, 2))
            labels.append(np.array([2.0, 3.0]))
        elif coords:
            coords.append(np.zeros((1, 2)))
            labels.append(np.array([-1.0]))
        if not coords:
            raise ValueError("decode needs a box or at least one point")
        return (np.concatenate(coords)[None].astype(np.float32), np.concatenate(labels)[None].astype(np.float32))

    def decode(self, embedding: Embedding, prompts: Prompts):
        """Low-res logits float32 ``[L, L]`` and the predicted IoU.

        Only the grid window a box's mask can reach is upscaled (:mod:`decoder_window`);
        the whole grid again when the mask touches the window's edge.
        """
        coords, labels = self.prompt_arrays(embedding.frame, prompts)
        if prompts.mask_logits is not None:
            mask = np.asarray(prompts.mask_logits, dtype=np.float32).reshape(1, 1, self.lowres_size, self.lowres_size)
            first = self._image_side(embedding.features, np.ascontiguousarray(mask), np.ones(1, np.float32))
        else:
            first = self._first_block(embedding.features)
        inputs = {"point_coords": coords, "point_labels": labels, **first}
        grid_size = self.lowres_size // UPSCALE
        window = GridWindow.for_prompts(embedding.frame, prompts, grid_size)
        logits, iou = self._decode_window(inputs, window)
        if window.reaches_edge(logits, self.mask_threshold_logit):
            window = GridWindow.whole(grid_size)
            logits, iou = self._decode_window(inputs, window)
        return window.paste(logits), float(iou.reshape(-1)[0])

    def _decode_window(self, inputs: dict, window: GridWindow) -> tuple[np.ndarray, np.ndarray]:
        """decoder_prompt on ``inputs`` and ``window`` -> (window logits ``[4r, 4c]``, IoU ``[1]``)."""
        return self.decoder_prompt_session.run(
            None, {**inputs, "window_rows": window.row_indices(), "window_cols": window.col_indices()})


# -- loading ------------------------------------------------------------------------------


def load_lite_medsam_onnx(providers: list[str], export_progress=None, session_factory=None) -> OnnxBackend:
    """LiteMedSAM (bundled weights, checksum verified) on ONNX Runtime; exports once
    (or finds the export bundled with the desktop package)."""
    import functools

    from medsam_gui.core.model_catalogue import MODEL_CATALOGUE
    from medsam_gui.engine.models import litemedsam
    from medsam_gui.engine.models.lite_medsam_asset import expected_sha256, weights_path

    export = ensure_lite_medsam_export(export_progress)
    path, checksum = weights_path(), expected_sha256()
    torch_backend = litemedsam.LiteMedSamBackend
    card = MODEL_CATALOGUE[torch_backend.name]
    return OnnxBackend(
        export, providers, name=torch_backend.name, display_name=card.display_name,
        model_id=f"litemedsam:{checksum[:16]}", preprocessing_signature=torch_backend.preprocessing_signature,
        preprocess=litemedsam.preprocess,
        frame_for=functools.partial(litemedsam.ModelFrame.longest_side, input_size=litemedsam.INPUT_SIZE,
                                    lowres_size=litemedsam.LOWRES_SIZE),
        licence=card.licence, source=str(path),
        mask_threshold_logit=torch_backend.mask_threshold_logit, session_factory=session_factory,
    )


def ensure_lite_medsam_export(export_progress=None, into: Path | None = None):
    """The ONNX export of the bundled LiteMedSAM weights (checksum verified): found
    (bundled, or in the user cache) or made now; with ``into``, looked up and made in
    that folder (``packaging/export_onnx.py`` fills the desktop package's bundled
    exports so). Returns the :class:`onnx_export.ExportedModel`."""
    from medsam_gui.engine.models import litemedsam
    from medsam_gui.engine.models.checksum import verify_once
    from medsam_gui.engine.models.lite_medsam_asset import expected_sha256, weights_path
    from medsam_gui.engine.models.onnx_export import decoder_specs, encoder_specs, ensure_export, export_key, lite_medsam_encoder_stages

    path = weights_path()
    checksum = expected_sha256()
    verify_once(path, checksum)
    key, key_text = export_key(checksum, "litemedsam")

    def build():
        from medsam_gui.engine.models.lite_medsam_net import load_lite_medsam

        network = load_lite_medsam(path)
        return (encoder_specs(lite_medsam_encoder_stages(network.image_encoder), litemedsam.INPUT_SIZE)
                + decoder_specs(network.prompt_encoder, network.mask_decoder))

    meta = {"input_size": litemedsam.INPUT_SIZE, "lowres_size": litemedsam.LOWRES_SIZE}
    export, _ = ensure_export(key, key_text, build, meta, export_progress, into)
    return export


def sam_onnx_backend_from_model(model, weights_sha256: str, style: str, name: str, display_name: str, source: str,
                                licence: str, model_id: str, providers: list[str], export_progress=None,
                                session_factory=None) -> OnnxBackend:
    """A ``transformers.SamModel`` (MedSAM / SAM style) on ONNX Runtime. ``model`` may be
    a callable returning the model: it is only called when the export is not cached."""
    import functools

    from medsam_gui.engine.models import sam_hf
    from medsam_gui.engine.models.onnx_export import decoder_specs, encoder_specs, ensure_export, export_key, vit_encoder_stages

    key, key_text = export_key(weights_sha256, f"sam-vit:{style}")
    holder = {}

    def get_model():
        if "model" not in holder:
            holder["model"] = (model() if callable(model) and not hasattr(model, "config") else model).eval().requires_grad_(False)
        return holder["model"]

    def build():
        from medsam_gui.engine.models.sam_hf_heads import heads_from_transformers

        sam = get_model()
        size = int(sam.config.vision_config.image_size)
        return encoder_specs(vit_encoder_stages(sam.vision_encoder), size) + decoder_specs(*heads_from_transformers(sam))

    def meta_now():
        config = get_model().config
        return {"input_size": int(config.vision_config.image_size),
                "lowres_size": 4 * int(config.prompt_encoder_config.image_embedding_size)}

    from medsam_gui.engine.models.onnx_export import find_export

    export = find_export(key)
    if export is None:
        export, _ = ensure_export(key, key_text, build, meta_now(), export_progress)
    input_size, lowres_size = int(export.meta["input_size"]), int(export.meta["lowres_size"])
    signature = f"{style}-ref:{'squash-bicubic-minmax' if style == 'medsam' else 'longest-bilinear-imagenet-pad'}:{input_size}"
    return OnnxBackend(
        export, providers, name=name, display_name=display_name, model_id=model_id, preprocessing_signature=signature,
        preprocess=functools.partial(sam_hf.preprocess, style=style, input_size=input_size, lowres_size=lowres_size),
        frame_for=functools.partial(sam_hf.frame_for_style, style, input_size=input_size, lowres_size=lowres_size),
        licence=licence, source=source, session_factory=session_factory, openvino_encoder=True,
    )
