"""Which model the window runs: the first load at start-up, and a change of model from
the Model panel while the app runs.

A model loads on an :class:`EngineLoader` thread (a download and the one-time ONNX
export included, their progress in the status bar, stopped by the Model panel's Stop
button); the model in use keeps answering until the new one is ready, then the window
attaches the new engine and retires the old one's threads without waiting for them (a
pass in flight ends on its own). A model that cannot be loaded leaves the one in use
running and says why. The choice is saved in the settings file and used at the next
start.
"""

from __future__ import annotations

import os
from typing import Callable

from PyQt6.QtCore import QObject

from medsam_gui.core.model_catalogue import MODEL_CATALOGUE, model_card
from medsam_gui.ui.panels.model import model_choice_key, settings
from medsam_gui.ui.worker import EngineLoader

DEFAULT_MODEL = "litemedsam"
SETTINGS_KEY = "model/name"


def saved_model_choice() -> str:
    """The model chosen last (a catalogue name, or the path of a model folder or
    checkpoint that is still there), or LiteMedSAM."""
    name = str(settings().value(SETTINGS_KEY, DEFAULT_MODEL) or DEFAULT_MODEL)
    return name if name in MODEL_CATALOGUE or os.path.exists(name) else DEFAULT_MODEL


class ModelSwitcher(QObject):
    """Loads models for the window: ``load(name)`` at start-up, ``switch_to(name)`` when
    the user picks one in the Model panel (a catalogue name, or a model folder's or
    checkpoint's path).

    Dependencies: ``model_panel`` (its ``model_chosen`` and ``stop_loading_requested``
    signals, ``show_choice``, ``set_loading``, ``set_model_error``), ``current_engine()``,
    ``attach_engine(engine)`` (starts the new engine's threads), ``retire_engine()`` (the
    old engine's threads stop in the background), ``busy()`` (a reason a model must not
    change now, e.g. a propagation runs, or ''), ``set_model_text(str)`` (the status
    bar's model label), ``status`` and ``show_error``.
    """

    def __init__(self, model_panel, current_engine: Callable, attach_engine: Callable, retire_engine: Callable,
                 busy: Callable[[], str], set_model_text: Callable[[str], None], status: Callable, show_error: Callable,
                 parent=None) -> None:
        super().__init__(parent)
        self._panel = model_panel
        self._engine = current_engine
        self._attach_engine = attach_engine
        self._retire_engine = retire_engine
        self._busy = busy
        self._set_model_text = set_model_text
        self._status = status
        self._show_error = show_error
        self._loader: EngineLoader | None = None
        self._fall_back = False  # the load in flight falls back to LiteMedSAM if it fails
        self._loaders: list[EngineLoader] = []  # every loader started: shutdown waits for them
        self.load_failed = False  # the last load failed (and no model runs, or the old one still does)
        model_panel.model_chosen.connect(self.switch_to)
        model_panel.stop_loading_requested.connect(self.cancel_loading)

    @property
    def loading(self) -> bool:
        return self._loader is not None

    def load(self, name: str, fall_back: bool = False) -> None:
        """Load ``name`` (a catalogue name, a model folder or a checkpoint) on a thread;
        the window uses it when it is ready. ``fall_back`` (the start-up load of a saved
        choice): if it cannot be loaded, say why and load LiteMedSAM instead."""
        self._fall_back = fall_back and name != DEFAULT_MODEL
        card = model_card(name)
        self._set_model_text(f"model: loading {card.display_name if card else name}...")
        loader = EngineLoader(name, parent=self)
        loader.ready.connect(lambda engine: self._on_ready(loader, name, engine))
        loader.failed.connect(lambda message: self._on_failed(loader, message))
        loader.preparing.connect(self._set_model_text)
        self._loader = loader
        self._loaders.append(loader)
        self.load_failed = False
        self._panel.set_loading(True)
        loader.start()

    def cancel_loading(self) -> None:
        """The user stopped the load (the Model panel's Stop): the download or export ends
        at its next step in the background; the model in use, if any, goes on."""
        if self._loader is None:
            return
        self._loader.cancel()
        self._loader = None
        self._panel.set_loading(False)
        if self._engine() is None:
            self.load_failed = True
            self._set_model_text("model: loading cancelled")
        else:
            self._show_current()
        self._status("Model loading cancelled", 6000)

    def switch_to(self, name: str) -> None:
        """The user picked ``name``: load it unless it runs already, a model is loading,
        or a job that uses the model runs (then say so and keep the model in use)."""
        engine = self._engine()
        if engine is not None and model_choice_key(engine.model_info) == name:
            return
        reason = "another model is loading" if self.loading else self._busy()
        if reason:
            self._show_current()
            self._status(f"The model cannot change now: {reason}", 6000)
            return
        self.load(name)

    def shutdown(self) -> None:
        """Wait for loaders still running (closing the window)."""
        for loader in self._loaders:
            loader.wait()

    def _on_ready(self, loader: EngineLoader, name: str, engine) -> None:
        if loader is not self._loader:
            return
        self._loader = None
        self._panel.set_loading(False)
        if self._engine() is not None:
            self._retire_engine()
        self._attach_engine(engine)
        settings().setValue(SETTINGS_KEY, name)
        if len(self._loaders) > 1:
            self._status(f"Now segmenting with {engine.model_info.display_name} on {engine.model_info.device}", 6000)

    def _on_failed(self, loader: EngineLoader, message: str) -> None:
        if loader is not self._loader:  # cancelled (or replaced): nothing to say
            return
        self._loader = None
        self._panel.set_loading(False)
        self.load_failed = True
        engine = self._engine()
        if engine is None and self._fall_back:  # the saved choice is gone (offline, a folder moved)
            self._show_error(f"{message}\nLoading {MODEL_CATALOGUE[DEFAULT_MODEL].display_name} instead.")
            self.load(DEFAULT_MODEL)
            return
        if engine is None:
            self._set_model_text("model: not available")
            self._panel.set_model_error(message)
        else:  # the model in use keeps running
            self._show_current()
            message = f"{message}\nStill segmenting with {engine.model_info.display_name}."
        self._show_error(message)

    def _show_current(self) -> None:
        engine = self._engine()
        if engine is not None:
            info = engine.model_info
            self._set_model_text(f"{info.display_name} on {info.device}")
            self._panel.show_choice(model_choice_key(info))
