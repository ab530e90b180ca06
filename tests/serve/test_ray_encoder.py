"""``serve --ray``: the encoder as a Ray Serve deployment behind the same front. One
slow test (an embedded Ray instance takes ~20 s to start on two cores)."""

from __future__ import annotations

import concurrent.futures

import numpy as np
import pytest

from medsam_gui.engine.remote import EncoderServiceClient


@pytest.mark.slow
def test_ray_deployment_serves_the_same_embeddings(tiny_sam_folder, token_store, start_service):
    pytest.importorskip("ray.serve")
    import ray
    from ray import serve

    from medsam_gui.engine.models import load_backend
    from medsam_gui.serve.encoders import RayEncoder

    local = load_backend(str(tiny_sam_folder), device="cpu")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        encoder = RayEncoder(str(tiny_sam_folder), device="cpu", replicas=1)
        assert encoder.model_id == local.model_id and encoder.preprocessing == local.preprocessing_signature
        token = token_store.add("alice")
        service = start_service({encoder.name: encoder}, token_store)
        images = [np.random.default_rng(seed).integers(0, 256, (64, 80, 3), dtype=np.uint8) for seed in range(6)]

        def encode(image):
            return EncoderServiceClient(service.url, token).encode(image, local.name, local.preprocessing_signature)

        with concurrent.futures.ThreadPoolExecutor(6) as pool:  # arriving together: batched by @serve.batch
            answers = list(pool.map(encode, images))
        for image, (features, frame, _) in zip(images, answers):
            expected = local.encode(image)
            assert frame == expected.frame
            np.testing.assert_allclose(features.astype(np.float32), expected.features.numpy(), atol=2e-3, rtol=2e-3)
        encoder.close()
    finally:
        serve.shutdown()
        ray.shutdown()
