"""The Model panel's encoder-service controls: "Test connection" reports each step (off
the GUI thread), the address and token are kept, and ticking "Encode on the server"
swaps the engine's encoder (and back)."""

from __future__ import annotations

import pytest
from conftest import FakeEncoder

pytest.importorskip("pytestqt")

from medsam_gui.engine.remote import RemoteBackend  # noqa: E402
from medsam_gui.engine.types import ModelInfo  # noqa: E402


class LocalStub:
    name = FakeEncoder.name
    model_id = FakeEncoder.model_id
    preprocessing_signature = FakeEncoder.preprocessing
    info = ModelInfo("fake", "Fake", "cpu", "-", "-", 256)


class EngineStub:
    def __init__(self) -> None:
        self.backend = LocalStub()

    @property
    def model_info(self):
        return self.backend.info


def test_test_connection_reports_every_step_and_settings_persist(qtbot, token_store, start_service):
    from medsam_gui.ui.panels.model import ModelPanel, load_server_settings

    token = token_store.add("alice")
    service = start_service({"fake": FakeEncoder()}, token_store)
    panel = ModelPanel()
    qtbot.addWidget(panel)
    messages = []
    engine = EngineStub()
    panel.attach_engine(engine, lambda text, ms=0: messages.append(text))
    panel.server_url_edit.setText(service.url)
    panel.server_token_edit.setText(token)
    panel.test_button.click()
    qtbot.waitUntil(lambda: "round trip" in panel.server_status_label.text(), timeout=20000)
    text = panel.server_status_label.text()
    for step in ("address reachable", "TLS", "token", "model", "round trip"):
        assert f"✔ {step}" in text, text
    assert messages[-1] == "Encoder service: all checks passed"

    panel.use_server_check.setChecked(True)
    assert isinstance(engine.backend, RemoteBackend) and engine.backend.client.url == service.url
    assert "server 127.0.0.1" in panel.device_label.text()
    assert load_server_settings() == (service.url, token, True)
    assert "kept in" in panel.token_note_label.text()
    panel.use_server_check.setChecked(False)
    assert isinstance(engine.backend, LocalStub)
    assert messages[-1] == "Slices are encoded on this computer again"

    panel.server_token_edit.setText("wrong")
    panel.test_button.click()
    qtbot.waitUntil(lambda: "✘ token" in panel.server_status_label.text(), timeout=20000)
    assert "HTTP 401" in panel.server_status_label.text()
    panel.shutdown()
