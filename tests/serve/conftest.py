"""Encoder-service fixtures: a real server on 127.0.0.1 in a thread (always stopped),
a token file, a fake encoder (no model: fast tests of auth, limits and the wire), and
self-signed certificates."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from medsam_gui.engine.frame import ModelFrame  # noqa: E402
from medsam_gui.serve.app import Limits, build_app  # noqa: E402
from medsam_gui.serve.runner import Listen, ServiceThread  # noqa: E402
from medsam_gui.serve.tokens import TokenStore  # noqa: E402


class FakeEncoder:
    """Stands in for a model: fixed features, a LiteMedSAM-like frame; counts calls."""

    name = "fake"
    model_id = "fake:0123456789abcdef"
    preprocessing = "fake-ref:longest256"
    device = "cpu"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.images: list[np.ndarray] = []

    async def encode(self, image):
        self.images.append(image)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        features = np.linspace(-1, 1, 8 * 4 * 4, dtype=np.float32).reshape(1, 8, 4, 4).astype(np.float16)
        return features, ModelFrame.longest_side(image.shape[:2], 256, 256)


@pytest.fixture
def token_store(tmp_path) -> TokenStore:
    return TokenStore(tmp_path / "tokens.json")


@pytest.fixture
def start_service():
    """start_service(encoders, tokens, limits=Limits(), listen=Listen(port=0)) -> a
    running ServiceThread; every one started is stopped after the test."""
    started: list[ServiceThread] = []

    def start(encoders: dict, tokens: TokenStore, limits: Limits = Limits(), listen: Listen | None = None):
        service = ServiceThread(build_app(encoders, tokens, limits), listen or Listen(port=0))
        started.append(service)
        return service.start()

    yield start
    for service in started:
        service.stop()


def make_self_signed(folder: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) for CN=localhost with SANs localhost and 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
