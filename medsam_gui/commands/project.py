"""``medsam-gui project init|status|export``: annotation projects from the command line.

    medsam-gui project init PROJECT_DIR --images DIR_OR_MANIFEST --labels liver,spleen
                            [--schema SCHEMA.json] [--name NAME] [--exclude GLOB]... [--user NAME]
    medsam-gui project status PROJECT_DIR [--json]
    medsam-gui project export PROJECT_DIR --format nnunet|nifti|nrrd|seg [--status approved,done]
                              -o OUT [--channel-name CT]

Indexing and export print progress lines on stderr; Ctrl+C cancels after the current
file (a second Ctrl+C stops at once), leaving no half-written file, and exits 130.
Errors are one line on stderr and exit status 2; so is an export that matches nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator

from medsam_gui.core.errors import MedsamGuiError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="{init,status,export}")

    init = actions.add_parser("init", help="create a project from a folder of scans or a CSV/JSON manifest")
    init.add_argument("project_dir", help="the project folder to create")
    init.add_argument("--images", required=True, help="folder of scans (searched recursively), or a .csv/.json manifest")
    init.add_argument("--labels", help="comma-separated label names (name or name=value): liver,spleen,...")
    init.add_argument("--schema", help="label schema JSON: [{\"value\", \"name\", \"colour\"?, \"category\"?, \"type\"?}]")
    init.add_argument("--name", help="project name (default: the folder's name)")
    init.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                      help="leave out files matching this pattern (relative path or name); repeatable")
    init.add_argument("--user", help="user name to record (default: the OS user)")

    status = actions.add_parser("status", help="counts per status and one row per case")
    status.add_argument("project_dir", help="the project folder")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")

    export = actions.add_parser("export", help="export labelled cases as a data set with a CSV report")
    export.add_argument("project_dir", help="the project folder")
    export.add_argument("--format", required=True, choices=("nnunet", "nifti", "nrrd", "seg"),
                        help="nnunet (imagesTr/labelsTr/dataset.json), nifti or nrrd labelmaps, seg (DICOM SEG)")
    export.add_argument("--status", help="only cases with these statuses, comma-separated (e.g. approved,done); "
                        "default: every case with saved labels")
    export.add_argument("-o", "--output", required=True, help="output folder")
    export.add_argument("--channel-name", help="nnU-Net channel name (default: the scans' modality, e.g. CT)")


def run(args: argparse.Namespace) -> int:
    return {"init": run_init, "status": run_status, "export": run_export}[args.action](args)


# progress and Ctrl+C ---------------------------------------------------------------------------


class ProgressLines:
    """Progress as lines on stderr, at most one per ``interval_s`` (and always the last)."""

    def __init__(self, what: str, interval_s: float = 1.0) -> None:
        self.what = what
        self.interval_s = interval_s
        self._last = -float("inf")

    def __call__(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if (total and done >= total) or now - self._last >= self.interval_s:
            self._last = now
            print(f"{self.what}: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def ctrl_c_cancels(cancel: threading.Event) -> Iterator[None]:
    """While inside: the first Ctrl+C sets ``cancel``, a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_interrupt(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("cancelling after the current file (Ctrl+C again to stop at once)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# init ------------------------------------------------------------------------------------------


def run_init(args: argparse.Namespace) -> int:
    from medsam_gui.project import LabelSchema, OperationCancelled, Project

    if bool(args.labels) == bool(args.schema):
        raise MedsamGuiError("give the labels with --labels liver,spleen,... or --schema FILE (one of them)")
    schema = LabelSchema.from_file(args.schema) if args.schema else LabelSchema.from_names(args.labels.split(","))
    cancel = threading.Event()
    try:
        with ctrl_c_cancels(cancel):
            project, result = Project.create(
                args.project_dir, args.images, schema, name=args.name, user=args.user,
                exclude=args.exclude, progress=ProgressLines("indexing"), cancel=cancel,
            )
    except OperationCancelled as error:
        print(f"medsam-gui: {error}", file=sys.stderr)
        return 130
    dicom = sum(1 for entry in result.cases if entry.kind == "dicom")
    print(
        f"created project '{project.name}' in {project.folder}: {len(result.cases)} cases "
        f"({dicom} DICOM series, {len(result.cases) - dicom} files); labels: {', '.join(schema.names)}"
    )
    for item in result.unreadable:
        print(f"unreadable: {item.path}: {item.reason}", file=sys.stderr)
    if result.unreadable:
        print(f"{len(result.unreadable)} scan(s) left out (listed above)", file=sys.stderr)
    if result.ignored_files:
        print(f"{result.ignored_files} other file(s) ignored (not scans)")
    return 0


# status ----------------------------------------------------------------------------------------


def format_seconds(seconds: float) -> str:
    """'1:02:03' or '12:05' (minutes:seconds)."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def status_document(project) -> dict:
    """The JSON-ready status of a project: counts per status and one entry per case."""
    from medsam_gui.project.layout import to_iso
    from medsam_gui.project.locks import stale_reason, this_host

    records = project.records()
    counts = project.status_counts(records)
    host, now = this_host(), time.time()
    cases = []
    for entry, record in zip(project.cases, records):
        owner = None
        with contextlib.suppress(MedsamGuiError):
            owner = project.lock_owner(entry.case_id)
        cases.append(
            {
                "case_id": entry.case_id,
                "image": entry.image,
                "series_uid": entry.series_uid,
                "status": record.status.value if record.problem is None else None,
                "label_count": record.label_count,
                "label_voxels": record.label_voxels,
                "last_editor": record.last_editor,
                "last_edited": to_iso(record.last_edited),
                "active_seconds": round(record.active_seconds, 1),
                "comment": record.comment,
                "locked_by": None if owner is None else {
                    "user": owner.user, "host": owner.host, "pid": owner.pid,
                    "since": to_iso(owner.created), "heartbeat": to_iso(owner.heartbeat),
                    "stale": stale_reason(owner, project.lock_stale_s, now, host) is not None,
                },
                "problem": record.problem,
            }
        )
    return {
        "project": project.name,
        "folder": str(project.folder),
        "labels": project.schema.names,
        "case_count": len(cases),
        "counts": {status.value: count for status, count in counts.items()},
        "problems": sum(1 for record in records if record.problem is not None),
        "unreadable_at_indexing": len(project.unreadable),
        "cases": cases,
    }


def status_text(document: dict) -> str:
    from medsam_gui.project import CaseStatus

    lines = [f"project: {document['project']} ({document['case_count']} cases; labels: {', '.join(document['labels'])})", ""]
    lines.append(f"{'status':<13}{'cases':>6}")
    for status in CaseStatus:
        lines.append(f"{status.text:<13}{document['counts'][status.value]:>6}")
    if document["problems"]:
        lines.append(f"{'record error':<13}{document['problems']:>6}")
    lines.append("")
    header = f"{'case':<28} {'status':<12} {'labels':>6}  {'last editor':<14} {'active':>8}  {'locked by':<28} comment"
    lines.append(header)
    for case in document["cases"]:
        status = CaseStatus(case["status"]).text if case["status"] else "ERROR"
        locked = ""
        if case["locked_by"]:
            owner = case["locked_by"]
            locked = f"{owner['user']}@{owner['host']}" + (" (stale)" if owner["stale"] else "")
        comment = case["problem"] if case["problem"] else case["comment"]
        lines.append(
            f"{case['case_id']:<28} {status:<12} {case['label_count']:>6}  {(case['last_editor'] or '-'):<14} "
            f"{format_seconds(case['active_seconds']):>8}  {locked:<28} {comment}".rstrip()
        )
    return "\n".join(lines)


def run_status(args: argparse.Namespace) -> int:
    from medsam_gui.project import Project

    document = status_document(Project.open(args.project_dir))
    print(json.dumps(document, indent=2) if args.json else status_text(document))
    return 0


# export ----------------------------------------------------------------------------------------


def run_export(args: argparse.Namespace) -> int:
    from medsam_gui.project import CaseStatus, OperationCancelled, Project

    project = Project.open(args.project_dir)
    statuses = CaseStatus.parse_list(args.status) if args.status else None
    cancel = threading.Event()
    try:
        with ctrl_c_cancels(cancel):
            result = project.export(
                args.output, args.format, statuses, channel_name=args.channel_name,
                progress=ProgressLines("export"), cancel=cancel,
            )
    except OperationCancelled as error:
        print(f"medsam-gui: {error}", file=sys.stderr)
        return 130
    for case_id, reason in result.skipped:
        print(f"skipped {case_id}: {reason}", file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not result.exported:
        print(f"medsam-gui: error: nothing exported: all {len(result.skipped)} selected case(s) were skipped", file=sys.stderr)
        return 2
    print(
        f"exported {len(result.exported)} case(s) as {args.format} to {result.output}"
        + (f"; {len(result.skipped)} skipped" if result.skipped else "")
    )
    print(f"report: {result.report_path}")
    return 0
