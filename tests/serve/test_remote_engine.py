"""The Engine with a remote encoder: same embeddings and masks as local (LiteMedSAM,
real weights), the same cache keys, and a local fallback when the server dies."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEncoder
from engine_testkit import synthetic_ct

from medsam_gui.core.document import Document
from medsam_gui.engine.cache import EmbeddingCache
from medsam_gui.engine.predictor import Engine
from medsam_gui.engine.remote import EncoderServiceClient, RemoteBackend, connect_engine, disconnect_engine
from medsam_gui.serve.encoders import InProcessEncoder

HERE = Path(__file__).resolve().parent


def _engine(backend) -> Engine:
    return Engine(backend, EmbeddingCache(256))


def _encode_all(engine: Engine) -> None:
    while engine.run_next_job(timeout_s=0.0) is not None:
        pass


@pytest.mark.slow
def test_server_embedding_and_mask_equal_local_litemedsam(litemedsam_backend, token_store, start_service):
    token = token_store.add("alice")
    service = start_service({"litemedsam": InProcessEncoder(litemedsam_backend)}, token_store)
    volume = synthetic_ct(slices=1, size=96)
    local = _engine(litemedsam_backend)
    remote_backend = RemoteBackend(litemedsam_backend, EncoderServiceClient(service.url, token))
    remote = _engine(remote_backend)
    for engine in (local, remote):
        engine.set_volume(volume)
        engine.request(0)
        _encode_all(engine)
    assert remote_backend.remote_count == 1 and remote_backend.local_count == 0, remote_backend.take_messages()
    # the same content-keyed cache key on both sides: same weights, same preprocessing
    assert local._key(("axial", 0, None)) == remote._key(("axial", 0, None))
    local_embedding = local.cache.get_memory(local._key(("axial", 0, None)))
    remote_embedding = remote.cache.get_memory(remote._key(("axial", 0, None)))
    assert local_embedding.frame == remote_embedding.frame
    expected = local_embedding.features.numpy()
    np.testing.assert_allclose(remote_embedding.features.numpy(), expected.astype(np.float16).astype(np.float32), atol=0, rtol=0)
    assert np.abs(remote_embedding.features.numpy() - expected).max() <= 2e-3 * max(1.0, np.abs(expected).max())
    box = (26, 26, 70, 70)
    local_mask = local.predict(0, box_xyxy=box).mask
    remote_mask = remote.predict(0, box_xyxy=box).mask
    assert local_mask.sum() > 100
    disagreement = np.logical_xor(local_mask, remote_mask).sum() / local_mask.sum()
    assert disagreement < 0.005, disagreement


def test_server_killed_mid_request_falls_back_to_local_and_labels_stay(tmp_path, tiny_sam_folder, token_store):
    from medsam_gui.engine.models import load_backend

    backend = load_backend(str(tiny_sam_folder), device="cpu")
    token = token_store.add("alice")
    server = subprocess.Popen([sys.executable, str(HERE / "slow_server.py"), str(token_store.path), backend.name,
                               backend.model_id, backend.preprocessing_signature],
                              stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert line.startswith("listening"), line
        url = f"http://127.0.0.1:{int(line.split()[1])}"
        volume = synthetic_ct(slices=3, size=64)
        document = Document(volume)
        drawn = np.zeros(volume.shape_zyx[1:], dtype=bool)
        drawn[5:15, 5:15] = True
        document.paint_slice(2, drawn, value=1)
        labels_before = document.labels.copy()
        engine = _engine(backend)
        engine.set_volume(volume)
        remote = connect_engine(engine, url, token, timeout_s=60)
        engine.request(1)
        results = []
        worker = threading.Thread(target=lambda: results.append(engine.run_next_job(timeout_s=1.0)))
        worker.start()
        assert server.stdout.readline().strip() == "encoding"  # the request is in the middle of its pass
        server.kill()
        worker.join(30)
        assert not worker.is_alive() and results and results[0] is not None
        assert remote.local_count == 1 and remote.remote_count == 0
        messages = remote.take_messages()
        assert len(messages) == 1 and "encoding on this computer" in messages[0] and url in messages[0], messages
        assert "tried again" in messages[0]
        assert "server unavailable" in engine.model_info.device
        prediction = engine.predict(1, box_xyxy=(20, 20, 40, 40))  # decode works on the local embedding
        assert prediction.mask.shape == volume.shape_zyx[1:]
        np.testing.assert_array_equal(document.labels, labels_before)
        document.paint_slice(1, prediction.mask | drawn, value=1)
        assert document.labels[2][drawn].all() and document.labels[1][drawn].all()
        # while the server is away the next slice goes straight to the local encoder, no wait
        started = time.perf_counter()
        engine.request(0)
        _encode_all(engine)
        assert remote.local_count == 2 and time.perf_counter() - started < 20
        assert disconnect_engine(engine) is backend and engine.backend is backend
    finally:
        server.kill()
        server.wait(10)


def test_other_weights_on_the_server_are_refused_and_encoded_here(tiny_sam_folder, token_store, start_service):
    from medsam_gui.engine.models import load_backend

    backend = load_backend(str(tiny_sam_folder), device="cpu")
    impostor = FakeEncoder()
    impostor.name, impostor.preprocessing = backend.name, backend.preprocessing_signature  # model_id differs
    token = token_store.add("alice")
    service = start_service({backend.name: impostor}, token_store)
    engine = _engine(backend)
    engine.set_volume(synthetic_ct(slices=1, size=64))
    remote = connect_engine(engine, service.url, token)
    engine.request(0)
    _encode_all(engine)
    assert len(impostor.images) == 1 and remote.local_count == 1
    [message] = remote.take_messages()
    assert "weights fake:0123456789abcdef" in message and "encoding on this computer" in message
    engine.predict(0, box_xyxy=(10, 10, 50, 50))


def test_segment_command_with_server(tmp_path, tiny_sam_folder, token_store, start_service, capsys):
    import SimpleITK as sitk

    from medsam_gui.cli import main
    from medsam_gui.engine.models import load_backend

    backend = load_backend(str(tiny_sam_folder), device="cpu")
    token = token_store.add("alice")
    service = start_service({backend.name: InProcessEncoder(backend)}, token_store)
    scan = tmp_path / "scan.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(synthetic_ct(slices=2, size=64).voxels), str(scan))
    output = tmp_path / "mask.nii.gz"
    code = main(["segment", str(scan), "--slice", "1", "--box", "10", "10", "50", "50", "--model", str(tiny_sam_folder),
                 "--device", "cpu", "--server", service.url, "--token", token, "-o", str(output)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "server 127.0.0.1" in out.out and "warning" not in out.out
    assert output.is_file()
