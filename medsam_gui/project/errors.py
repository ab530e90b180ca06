"""Errors of annotation projects: each names the file or folder concerned and the reason.

All derive from :class:`medsam_gui.core.errors.MedsamGuiError`, so the command line
prints them as one line (exit status 2) and the app shows them in words.
"""

from __future__ import annotations

from medsam_gui.core.errors import MedsamGuiError


class ProjectError(MedsamGuiError):
    """Something about a project folder or one of its cases went wrong (the text says what)."""


class NotAProjectError(ProjectError):
    """The folder holds no readable ``project.json`` (or one written by a newer medsam-gui)."""


class CaseFileMissing(ProjectError):
    """A file of a case (``case.json``, ``labels.nii.gz``) was deleted behind the app's back.

    ``path`` names the missing file; the rest of the project keeps working.
    """

    def __init__(self, reason: str, path: str, case_id: str) -> None:
        super().__init__(reason, path)
        self.case_id = case_id


class ProjectReadOnly(ProjectError):
    """The project folder (or a case folder in it) cannot be written; ``path`` names the folder.

    Reading keeps working: open the case read-only.
    """


class CaseReadOnly(ProjectError):
    """The case is approved: it is read-only until someone reopens it."""


class CaseLocked(ProjectError):
    """The case is open in another app instance; open it read-only.

    Attributes:
        case_id: the case.
        owner: the :class:`~medsam_gui.project.locks.LockOwner` holding it (user, host,
            pid, created, heartbeat).
    """

    def __init__(self, reason: str, path: str, case_id: str, owner) -> None:
        super().__init__(reason, path)
        self.case_id = case_id
        self.owner = owner


class LockLost(CaseLocked):
    """This instance's lock was taken over (it was judged stale) by the ``owner`` named."""


class CaseNotLocked(ProjectError):
    """A change to a case was asked for without holding its lock (see ``Project.acquire_lock``)."""


class LabelSchemaError(ProjectError):
    """A label table or a labelmap does not fit the project's label schema."""


class NothingToExport(ProjectError):
    """No case matches the export's selection (status filter, saved labels)."""


class OperationCancelled(ProjectError):
    """The user cancelled indexing or an export; what was written is complete, nothing is half-written."""
