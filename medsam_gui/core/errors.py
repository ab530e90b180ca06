"""Errors that reach the user as words: a file (or thing) and the reason."""

from __future__ import annotations


class MedsamGuiError(Exception):
    """An error the user should read: ``str()`` names the file and the reason.

    Raised by readers, writers and the engine for bad input or missing models; the
    CLI prints it and exits with status 2, the app shows it and carries on.
    """

    def __init__(self, reason: str, path: str | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class UnreadableInputError(MedsamGuiError):
    """A file or folder that cannot be opened as an image (or a labelmap)."""


class AmbiguousSeriesError(MedsamGuiError):
    """A DICOM folder holds several series and the caller did not choose one.

    ``series`` lists what was found (objects with ``series_instance_uid``,
    ``description``, ``modality``, ``size_xyz``) so a caller can present a choice.
    """

    def __init__(self, reason: str, path: str, series: list) -> None:
        super().__init__(reason, path)
        self.series = series
