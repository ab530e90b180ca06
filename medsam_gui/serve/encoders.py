"""What runs the image encoder behind the service's HTTP front.

- :class:`InProcessEncoder` (default): the model in the server process, one pass at a
  time on one device thread (a GPU runs one pass at a time anyway).
- :class:`RayEncoder` (``--ray``): a Ray Serve deployment, one replica per GPU (or the
  replicas asked for), requests that arrive together grouped by ``@serve.batch``, more
  replicas or machines by Ray configuration (``--ray-address``).

Both answer ``await encode(image) -> (float16 [1, C, h, w], ModelFrame)`` and expose
``name``, ``model_id``, ``preprocessing``. Nothing is written to disk, nothing logged.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def _encode_with(backend, image_rgb_uint8: np.ndarray):
    embedding = backend.encode(image_rgb_uint8)
    features = backend.features_to_array(embedding.features).astype(np.float16)
    return features, embedding.frame


class InProcessEncoder:
    """``backend`` (a loaded model backend) run on one dedicated thread."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.name = backend.name
        self.model_id = backend.model_id
        self.preprocessing = backend.preprocessing_signature
        self.device = str(backend.info.device)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"encoder-{self.name}")

    async def encode(self, image_rgb_uint8: np.ndarray):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _encode_with, self.backend, image_rgb_uint8)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def _make_deployment(max_batch_size: int, batch_wait_s: float):
    from ray import serve

    @serve.deployment
    class EncoderDeployment:
        def __init__(self, model_name: str, device: str) -> None:
            from medsam_gui.engine.models import load_backend

            self.backend = load_backend(model_name, device=device)

        def describe(self) -> dict:
            return {"name": self.backend.name, "model_id": self.backend.model_id,
                    "preprocessing": self.backend.preprocessing_signature, "device": str(self.backend.info.device)}

        @serve.batch(max_batch_size=max_batch_size, batch_wait_timeout_s=batch_wait_s)
        async def encode(self, images: list) -> list:
            # the requests that arrived together, run back to back in this replica
            return [_encode_with(self.backend, image) for image in images]

    return EncoderDeployment


class RayEncoder:
    """``model_name`` on Ray Serve: ``replicas`` replicas (default one per GPU, or one on
    CPU), each holding one GPU when ``device`` is cuda; ``address`` joins an existing
    Ray cluster ('auto' or ray://...), default an embedded one on this machine."""

    def __init__(self, model_name: str, device: str = "auto", replicas: int | None = None, address: str | None = None,
                 max_batch_size: int = 8, batch_wait_s: float = 0.005) -> None:
        import ray
        from ray import serve

        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        use_gpu = device in ("cuda", "auto") and gpus > 0
        count = replicas or (gpus if use_gpu else 1)
        serve.start(proxy_location="Disabled")  # no Ray HTTP proxy: the FastAPI front is the only listener
        deployment = _make_deployment(max_batch_size, batch_wait_s).options(
            num_replicas=count, ray_actor_options={"num_gpus": 1} if use_gpu else {"num_cpus": 1})
        self._app_name = f"medsam-encoder-{model_name}".replace("/", "_")
        self.handle = serve.run(deployment.bind(model_name, "cuda" if use_gpu else device), name=self._app_name,
                                route_prefix=None)
        described = self.handle.describe.remote().result()
        self.name = described["name"]
        self.model_id = described["model_id"]
        self.preprocessing = described["preprocessing"]
        self.device = f"ray: {count} replica(s) on {described['device']}"

    async def encode(self, image_rgb_uint8: np.ndarray):
        return await self.handle.encode.remote(image_rgb_uint8)

    def close(self) -> None:
        from ray import serve

        serve.delete(self._app_name)
