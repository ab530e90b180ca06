"""Encoder service security: tokens (401), body limit (413), rate limit (429), TLS,
the plain-HTTP-on-network refusal, and what crosses the wire. A fake encoder: fast."""

from __future__ import annotations

import http.server
import json
import threading

import numpy as np
import pytest
from conftest import FakeEncoder, make_self_signed

from medsam_gui.cli import main
from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.engine.remote import (
    REQUEST_KEYS, EncoderServiceClient, ServiceError, ServiceUnavailable, check_connection, decode_request, encode_request,
)
from medsam_gui.serve.app import Limits
from medsam_gui.serve.runner import Listen, check_listen

GREY = np.random.default_rng(1).integers(0, 256, (40, 60), dtype=np.uint8)
IMAGE = np.repeat(GREY[:, :, None], 3, axis=2)


def test_health_needs_no_token_and_tells_only_status_and_names(token_store, start_service):
    service = start_service({"fake": FakeEncoder()}, token_store)
    assert EncoderServiceClient(service.url).health() == {"status": "ok", "models": ["fake"]}


@pytest.mark.parametrize("case", ["missing", "wrong", "malformed", "revoked"])
def test_bad_tokens_get_401_with_words(token_store, start_service, case):
    good = token_store.add("alice")
    service = start_service({"fake": FakeEncoder()}, token_store)
    assert EncoderServiceClient(service.url, good).check()["user"] == "alice"
    token = {"missing": "", "wrong": good[:-4] + "AAAA", "malformed": "let-me-in", "revoked": good}[case]
    if case == "revoked":
        assert token_store.revoke("alice")
    client = EncoderServiceClient(service.url, token)
    with pytest.raises(ServiceError) as raised:
        client.encode(IMAGE, "fake", FakeEncoder.preprocessing)
    assert raised.value.status == 401
    assert raised.value.code == ("no_token" if case == "missing" else "bad_token")
    assert "token" in str(raised.value) and "HTTP 401" in str(raised.value)


def test_token_file_keeps_only_salted_hashes(token_store):
    first, second = token_store.add("alice"), token_store.add("bob")
    text = token_store.path.read_text()
    assert first not in text and second not in text
    assert first.split("_")[2] not in text
    records = json.loads(text)["tokens"]
    assert len({record["salt"] for record in records}) == 2
    assert oct(token_store.path.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(MedsamGuiError, match="revoke it first"):
        token_store.add("alice")


def test_token_cli_add_prints_once_and_revoke(tmp_path, capsys):
    tokens = tmp_path / "t.json"
    assert main(["serve", "token", "add", "carol", "--tokens", str(tokens)]) == 0
    token = capsys.readouterr().out.splitlines()[0]
    assert token.startswith("msg_") and token not in tokens.read_text()
    from medsam_gui.serve.tokens import TokenStore

    assert TokenStore(tokens).verify(token) == "carol"
    assert main(["serve", "token", "revoke", "carol", "--tokens", str(tokens)]) == 0
    assert TokenStore(tokens).verify(token) is None
    assert main(["serve", "token", "revoke", "carol", "--tokens", str(tokens)]) == 2


def test_too_large_body_gets_413(token_store, start_service):
    token = token_store.add("alice")
    service = start_service({"fake": FakeEncoder()}, token_store, Limits(max_body_bytes=64 * 1024))
    noise = np.random.default_rng(2).integers(0, 256, (300, 300, 3), dtype=np.uint8)  # incompressible: ~270 KB
    with pytest.raises(ServiceError) as raised:
        EncoderServiceClient(service.url, token).encode(noise, "fake", FakeEncoder.preprocessing)
    assert raised.value.status == 413 and "larger than" in str(raised.value)
    # a small one still goes through afterwards
    features, _, _ = EncoderServiceClient(service.url, token).encode(IMAGE, "fake", FakeEncoder.preprocessing)
    assert features.shape == (1, 8, 4, 4)


def test_rate_limit_gives_429_per_token(token_store, start_service):
    alice, bob = token_store.add("alice"), token_store.add("bob")
    service = start_service({"fake": FakeEncoder()}, token_store, Limits(rate_per_s=0.5, burst=3))
    client = EncoderServiceClient(service.url, alice)
    for _ in range(3):
        client.encode(IMAGE, "fake", FakeEncoder.preprocessing)
    with pytest.raises(ServiceError) as raised:
        client.encode(IMAGE, "fake", FakeEncoder.preprocessing)
    assert raised.value.status == 429 and raised.value.retry_after_s >= 1 and "too many requests" in str(raised.value)
    EncoderServiceClient(service.url, bob).encode(IMAGE, "fake", FakeEncoder.preprocessing)  # bob has his own budget


def test_unknown_model_and_other_preprocessing_are_refused_in_words(token_store, start_service):
    token = token_store.add("alice")
    service = start_service({"fake": FakeEncoder()}, token_store)
    client = EncoderServiceClient(service.url, token)
    with pytest.raises(ServiceError, match="does not run 'medsam'") as raised:
        client.encode(IMAGE, "medsam", FakeEncoder.preprocessing)
    assert raised.value.status == 404
    with pytest.raises(ServiceError, match="preprocesses") as raised:
        client.encode(IMAGE, "fake", "fake-ref:other")
    assert raised.value.status == 409


def test_request_holds_only_the_pixels_model_name_and_preprocessing(token_store):
    """Capture what the client sends (a listener on 127.0.0.1 that records and answers 503)."""
    captured = {}

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            captured["headers"] = dict(self.headers)
            captured["path"] = self.path
            captured["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": "test", "message": "recorded"}')

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = EncoderServiceClient(f"http://127.0.0.1:{server.server_address[1]}", "msg_000000000000_" + "s" * 40)
        with pytest.raises(ServiceError, match="recorded"):
            client.encode(IMAGE, "litemedsam", "litemedsam-ref:longest256-cv2area-minmax-pad")
    finally:
        server.shutdown()
        server.server_close()
    body = captured["body"]
    header, image = decode_request(body, 10**6)
    assert set(header) == REQUEST_KEYS == {"model", "preprocessing", "compression"}
    assert header["model"] == "litemedsam"
    np.testing.assert_array_equal(image, IMAGE)
    # the body is exactly those fields plus the pixels: nothing else hides in it
    assert body == encode_request(IMAGE, "litemedsam", "litemedsam-ref:longest256-cv2area-minmax-pad")
    assert captured["path"] == "/v1/encode"
    assert {name.lower() for name in captured["headers"]} <= {"host", "accept-encoding", "content-length",
                                                              "content-type", "authorization"}


def test_tls_with_a_self_signed_certificate(tmp_path, token_store, start_service):
    cert, key = make_self_signed(tmp_path)
    token = token_store.add("alice")
    service = start_service({"fake": FakeEncoder()}, token_store,
                            listen=Listen("127.0.0.1", 0, str(cert), str(key)))
    assert service.url.startswith("https://")
    client = EncoderServiceClient(service.url, token, cafile=str(cert))
    features, _, _ = client.encode(IMAGE, "fake", FakeEncoder.preprocessing)
    assert features.shape == (1, 8, 4, 4)
    steps = check_connection(service.url, token, "fake", FakeEncoder.preprocessing, FakeEncoder.model_id, cafile=str(cert))
    assert [step.name for step in steps] == ["address reachable", "TLS", "token", "model", "round trip"]
    assert all(step.ok for step in steps), steps
    assert "TLS" in steps[1].detail
    # without trusting the certificate: refused, in words
    with pytest.raises(ServiceUnavailable, match="not trusted"):
        EncoderServiceClient(service.url, token).health()
    untrusted = check_connection(service.url, token, "fake", FakeEncoder.preprocessing)
    assert untrusted[-1].name == "TLS" and not untrusted[-1].ok and "not trusted" in untrusted[-1].detail
    # plain HTTP to a TLS port fails too, not silently
    with pytest.raises(ServiceUnavailable):
        EncoderServiceClient(service.url.replace("https", "http"), token, timeout_s=3).health()


def test_plain_http_on_the_network_is_refused(tmp_path, capsys):
    with pytest.raises(MedsamGuiError, match="refusing to serve plain HTTP on 0.0.0.0"):
        check_listen(Listen("0.0.0.0", 8765))
    with pytest.raises(MedsamGuiError, match="both --tls-cert"):
        check_listen(Listen("0.0.0.0", 8765, tls_cert="c.pem"))
    check_listen(Listen("0.0.0.0", 8765, allow_plain_http_on_network=True))
    check_listen(Listen("0.0.0.0", 8765, "c.pem", "k.pem"))
    check_listen(Listen("127.0.0.1", 8765))
    check_listen(Listen("::1", 8765))
    assert main(["serve", "--host", "192.168.1.10", "--tokens", str(tmp_path / "t.json")]) == 2
    assert "refusing to serve plain HTTP" in capsys.readouterr().err


def test_connection_check_names_each_failing_step(token_store, start_service):
    closed = check_connection("http://127.0.0.1:9", "x", "fake", "p", timeout_s=2)
    assert closed[-1].name == "address reachable" and not closed[-1].ok
    network = check_connection("http://127.0.0.1:9".replace("127.0.0.1", "localhost"), "x", "fake", "p", timeout_s=2)
    assert not network[-1].ok
    token = token_store.add("alice")
    service = start_service({"fake": FakeEncoder()}, token_store)
    wrong_model = check_connection(service.url, token, "litemedsam", "p")
    assert wrong_model[-1].name == "model" and not wrong_model[-1].ok and "does not run" in wrong_model[-1].detail
    bad_token = check_connection(service.url, "nope", "fake", FakeEncoder.preprocessing)
    assert bad_token[-1].name == "token" and "HTTP 401" in bad_token[-1].detail
