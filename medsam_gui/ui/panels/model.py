"""Model panel: the model to use, which model runs where, how far the encoder has got,
and the encoder service (server address, token, "Test connection", encode there or here)."""

from __future__ import annotations

import importlib.util
import os

from PyQt6.QtCore import QSettings, QThread, QTimer, pyqtSignal
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                             QPushButton, QVBoxLayout, QWidget)

from medsam_gui.core.model_catalogue import model_card
from medsam_gui.core.paths import user_config_dir

KEYRING_SERVICE = "medsam-gui encoder service"
MESSAGE_POLL_MS = 500


OTHER_MODEL = "<other>"  # the list's last row: ask for a model folder or checkpoint


def model_choice_key(info) -> str:
    """How the Use list names a loaded model (ModelInfo): its catalogue name, else its source path."""
    return info.name if model_card(info.name) is not None else str(info.source)


def settings() -> QSettings:
    """The app's settings file in the user config folder (tests isolate that folder)."""
    return QSettings(str(user_config_dir() / "settings.ini"), QSettings.Format.IniFormat)


def keyring_available() -> bool:
    return importlib.util.find_spec("keyring") is not None


def load_server_settings() -> tuple[str, str, bool]:
    """(url, token, use_server) as last saved; the token from the OS keyring when the
    ``keyring`` package is installed, else from the settings file."""
    store = settings()
    url = str(store.value("server/url", "") or "")
    use = str(store.value("server/use", "false")).lower() == "true"
    token = str(store.value("server/token", "") or "")
    if keyring_available() and url:
        try:
            import keyring

            token = keyring.get_password(KEYRING_SERVICE, url) or token
        except Exception:  # no keyring backend on this desktop: the settings file then
            pass
    return url, token, use


def save_server_settings(url: str, token: str, use_server: bool) -> str:
    """Save; returns where the token went, in words."""
    store = settings()
    store.setValue("server/url", url)
    store.setValue("server/use", "true" if use_server else "false")
    where = "the settings file (install the 'keyring' package to keep it in the system keyring)"
    if keyring_available() and url:
        try:
            import keyring

            keyring.set_password(KEYRING_SERVICE, url, token)
            store.remove("server/token")
            where = "the system keyring"
        except Exception:
            store.setValue("server/token", token)
    else:
        store.setValue("server/token", token)
    store.sync()
    return where


class ConnectionCheck(QThread):
    """Runs :func:`medsam_gui.engine.remote.check_connection` off the GUI thread.

    Signal: checked(list of CheckStep).
    """

    checked = pyqtSignal(list)

    def __init__(self, url: str, token: str, model: str, preprocessing: str, model_id: str | None, parent=None) -> None:
        super().__init__(parent)
        self._arguments = (url, token or None, model, preprocessing, model_id)

    def run(self) -> None:
        from medsam_gui.engine.remote import CheckStep, check_connection

        try:
            steps = check_connection(*self._arguments)
        except Exception as error:  # reported in words, never a crash
            steps = [CheckStep("check", False, f"{type(error).__name__}: {error}")]
        self.checked.emit(steps)


class ModelPanel(QWidget):
    """The model choice, model facts (name, device, licence, source, encoded slices) and
    the encoder service.

    Signals: model_chosen(str name): the user picked a model in the "Use" list: a
    catalogue name, or the path of a model folder or .pth checkpoint chosen through its
    last row (the window's ModelSwitcher loads it); stop_loading_requested(): the user
    pressed Stop while a model downloads or loads.
    """

    model_chosen = pyqtSignal(str)
    stop_loading_requested = pyqtSignal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.choice_combo = QComboBox()
        self.choice_combo.setObjectName("model.choice")
        # long names must not widen the dock (the views keep their room)
        self.choice_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.choice_combo.setMinimumContentsLength(12)
        self.choice_combo.setToolTip("The model that segments. A model that is not on this machine is downloaded "
                                     "once; the one in use keeps working until the new one is ready.")
        self._fill_choices()
        self.choice_combo.activated.connect(self._on_choice_activated)
        self._shown_choice = ""  # the model in use, as the list knows it (a catalogue name or a path)
        self.stop_loading_button = QPushButton("Stop")
        self.stop_loading_button.setObjectName("model.stop_loading")
        self.stop_loading_button.setToolTip("Stop downloading / preparing the model chosen")
        self.stop_loading_button.setVisible(False)
        self.stop_loading_button.clicked.connect(self.stop_loading_requested)
        choice_row = QHBoxLayout()
        choice_row.setContentsMargins(0, 0, 0, 0)
        choice_row.addWidget(self.choice_combo, 1)
        choice_row.addWidget(self.stop_loading_button)
        self.name_label = QLabel("loading...")
        self.device_label = QLabel("-")
        self.device_label.setObjectName("model.device")
        self.device_label.setWordWrap(True)
        self.licence_label = QLabel("-")
        self.source_label = QLabel("-")
        self.source_label.setWordWrap(True)
        self.licence_label.setWordWrap(True)
        self.progress_label = QLabel("-")
        self.progress_label.setObjectName("model.progress")
        facts = QFormLayout()
        facts.addRow("Use", choice_row)
        facts.addRow("Model", self.name_label)
        facts.addRow("Device", self.device_label)
        facts.addRow("Licence", self.licence_label)
        facts.addRow("Source", self.source_label)
        facts.addRow("Encoded", self.progress_label)

        self.server_box = QGroupBox("Encoder service")
        self.server_url_edit = QLineEdit()
        self.server_url_edit.setObjectName("model.server_url")
        self.server_url_edit.setPlaceholderText("https://gpu-server:8765")
        self.server_token_edit = QLineEdit()
        self.server_token_edit.setObjectName("model.server_token")
        self.server_token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.server_token_edit.setPlaceholderText("msg_...")
        self.use_server_check = QCheckBox("Encode slices on the server")
        self.use_server_check.setObjectName("model.use_server")
        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("model.test_connection")
        self.server_status_label = QLabel("")
        self.server_status_label.setObjectName("model.server_status")
        self.server_status_label.setWordWrap(True)
        self.token_note_label = QLabel("")
        self.token_note_label.setWordWrap(True)
        server_form = QFormLayout(self.server_box)
        server_form.addRow("Address", self.server_url_edit)
        server_form.addRow("Token", self.server_token_edit)
        server_form.addRow(self.use_server_check)
        server_form.addRow(self.test_button)
        server_form.addRow(self.server_status_label)
        server_form.addRow(self.token_note_label)

        layout = QVBoxLayout(self)
        layout.addLayout(facts)
        layout.addWidget(self.server_box)
        layout.addStretch(1)

        self._engine = None
        self._show_message = None
        self._check: ConnectionCheck | None = None
        self._message_timer = QTimer(self)
        self._message_timer.setInterval(MESSAGE_POLL_MS)
        self._message_timer.timeout.connect(self._poll_server_messages)
        url, token, use = load_server_settings()
        self.server_url_edit.setText(url)
        self.server_token_edit.setText(token)
        self.use_server_check.setChecked(use and bool(url))
        self.use_server_check.toggled.connect(self._on_use_server_toggled)
        self.test_button.clicked.connect(self.test_connection)

    # -- model choice and facts ----------------------------------------------------------
    def _fill_choices(self) -> None:
        from medsam_gui.engine import list_models

        for entry in list_models():
            text = entry.display_name if entry.available else f"{entry.display_name} (downloaded on first use)"
            self.choice_combo.addItem(text, entry.name)
        self.choice_combo.addItem("Other: a model folder or .pth file...", OTHER_MODEL)

    def _on_choice_activated(self, index: int) -> None:
        name = self.choice_combo.itemData(index)
        if name == OTHER_MODEL:
            name = self._ask_model_path()
            if not name:
                self.show_choice(self._shown_choice)
                return
        self.model_chosen.emit(name)

    def _ask_model_path(self) -> str:
        """A MedSAM / SAM checkpoint (.pth) or transformers model folder (its config.json),
        chosen in a file dialog; '' when none was."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a MedSAM / SAM model", "",
            "MedSAM / SAM model: a .pth checkpoint, or a model folder's config.json (*.pth *.pt config.json);;All files (*)")
        if not path:
            return ""
        return os.path.dirname(path) if os.path.basename(path) == "config.json" else path

    def show_choice(self, name: str) -> None:
        """Show ``name`` (a catalogue name, or the path of a model folder or checkpoint) as
        the model in use in the list, without a signal; a path gets its own row."""
        index = self.choice_combo.findData(name)
        if index < 0 and name:
            index = self.choice_combo.count() - 1  # before "Other..."
            self.choice_combo.insertItem(index, os.path.basename(name.rstrip("/\\")) or name, name)
        self.choice_combo.setCurrentIndex(index)
        self._shown_choice = name

    def set_loading(self, loading: bool) -> None:
        """Show Stop while a model downloads or loads."""
        self.stop_loading_button.setVisible(loading)

    def set_model_info(self, info) -> None:
        self.show_choice(model_choice_key(info))
        self.name_label.setText(info.display_name)
        self.device_label.setText(info.device)
        self.licence_label.setText(info.licence)
        self.source_label.setText(os.path.basename(str(info.source)) or str(info.source))
        self.source_label.setToolTip(str(info.source))

    def set_model_error(self, message: str) -> None:
        self.name_label.setText("not available")
        self.source_label.setText(message)
        self.source_label.setToolTip(message)

    def set_progress(self, encoded: int, total: int) -> None:
        self.progress_label.setText(f"{encoded} / {total} slices")

    # -- encoder service ---------------------------------------------------------------
    def attach_engine(self, engine, show_message=None) -> None:
        """Called by the window once the engine is loaded; ``show_message(text, ms)``
        puts words in the status bar. Connects to the saved server if it was in use."""
        self._engine = engine
        self._show_message = show_message
        self._message_timer.start()
        if self.use_server_check.isChecked():
            self._connect()

    def _say(self, text: str, milliseconds: int = 8000) -> None:
        if self._show_message is not None:
            self._show_message(text, milliseconds)

    def _connect(self) -> None:
        from medsam_gui.core.errors import MedsamGuiError
        from medsam_gui.engine.remote import connect_engine

        url, token = self.server_url_edit.text().strip(), self.server_token_edit.text().strip()
        if not url:
            self.server_status_label.setText("Give the server's address first.")
            self.use_server_check.setChecked(False)
            return
        try:
            connect_engine(self._engine, url, token or None)
        except MedsamGuiError as error:
            self.server_status_label.setText(str(error))
            self.use_server_check.setChecked(False)
            return
        self.device_label.setText(self._engine.model_info.device)
        self._say(f"Slices are encoded on {url} from now on; prompts are decoded here")

    def _on_use_server_toggled(self, use: bool) -> None:
        url, token = self.server_url_edit.text().strip(), self.server_token_edit.text().strip()
        where = save_server_settings(url, token, use)
        self.token_note_label.setText(f"The token is kept in {where}." if token else "")
        if self._engine is None:
            return
        if use:
            self._connect()
        else:
            from medsam_gui.engine.remote import disconnect_engine

            disconnect_engine(self._engine)
            self.device_label.setText(self._engine.model_info.device)
            self._say("Slices are encoded on this computer again")

    def _poll_server_messages(self) -> None:
        backend = getattr(self._engine, "backend", None)
        take = getattr(backend, "take_messages", None)
        if take is None:
            return
        messages = take()
        if messages:
            self.server_status_label.setText(messages[-1])
            self.device_label.setText(self._engine.model_info.device)
            self._say(messages[-1], 15000)

    def test_connection(self) -> None:
        """Check address, TLS, token, model and preprocessing, round trip; off the GUI thread."""
        if self._check is not None and self._check.isRunning():
            return
        backend = getattr(self._engine, "backend", None)
        local = getattr(backend, "local", backend)
        model = getattr(local, "name", "litemedsam")
        preprocessing = getattr(local, "preprocessing_signature", "")
        model_id = getattr(local, "model_id", None)
        if not preprocessing:
            from medsam_gui.engine.remote import CheckStep

            self._show_steps([CheckStep("model", False, "the model is still loading: test again in a moment")])
            return
        self.server_status_label.setText("Testing...")
        self.test_button.setEnabled(False)
        self._check = ConnectionCheck(self.server_url_edit.text().strip(), self.server_token_edit.text().strip(),
                                      model, preprocessing, model_id, self)
        self._check.checked.connect(self._show_steps)
        self._check.start()

    def _show_steps(self, steps: list) -> None:
        self.test_button.setEnabled(True)
        lines = [f"{'✔' if step.ok else '✘'} {step.name}: {step.detail}" for step in steps]
        self.server_status_label.setText("\n".join(lines))
        passed = bool(steps) and all(step.ok for step in steps)
        self._say("Encoder service: all checks passed" if passed else f"Encoder service: {steps[-1].detail}" if steps
                  else "Encoder service: nothing checked", 10000)

    def shutdown(self) -> None:
        self._message_timer.stop()
        if self._check is not None:
            self._check.wait(15000)
