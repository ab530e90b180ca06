"""How long a 1,000-case annotation project takes to create, open and list.

Builds a project of N cases (default 1,000) in a temporary folder: links to one small
real scan (``totalseg/example_ct_sm.nii.gz`` under ``MEDSAM_GUI_DATA``, default
``../shared/data``), or small synthetic NIfTI files when that folder is absent. Times
indexing (headers only) with writing the case records, ``Project.open``, reading every
case record with its status (what a cases panel and ``project status`` do), one status
change with its lock, and the status table of the command line. Prints a table; not a test.

    python benchmarks/bench_project.py [--cases 1000] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("MEDSAM_GUI_DATA", REPO_ROOT.parent / "shared" / "data"))


def build_images(folder: Path, count: int) -> str:
    """``count`` scans in ``folder`` (in sub-folders of 100); returns what they are."""
    source = DATA_ROOT / "totalseg" / "example_ct_sm.nii.gz"
    synthetic = None
    if not source.is_file():
        import numpy as np
        import SimpleITK as sitk

        synthetic = folder / "synthetic.nii.gz"
        folder.mkdir(parents=True, exist_ok=True)
        image = sitk.GetImageFromArray(np.random.default_rng(0).integers(-1000, 1000, (20, 64, 64), dtype=np.int16))
        image.SetSpacing((1.5, 1.5, 3.0))
        sitk.WriteImage(image, str(synthetic))
        source = synthetic
    for number in range(count):
        sub = folder / f"batch{number // 100:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        os.symlink(source, sub / f"case{number:04d}.nii.gz")
    what = "synthetic 64x64x20 NIfTI" if synthetic else f"links to {source.relative_to(DATA_ROOT)} (122x101x30)"
    return what


def timed(rows: list, what: str, function):
    start = time.perf_counter()
    value = function()
    rows.append((what, time.perf_counter() - start))
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    args = parser.parse_args()

    from medsam_gui.commands.project import status_document, status_text
    from medsam_gui.project import CaseStatus, LabelSchema, Project, index_images

    root = Path(tempfile.mkdtemp(prefix="bench_project_"))
    try:
        what = build_images(root / "images", args.cases)
        schema = LabelSchema.from_names(["liver", "spleen", "kidney left", "kidney right", "tumour"])
        rows: list[tuple[str, float]] = []
        timed(rows, "index_images alone (headers only)", lambda: index_images(root / "images", root / "proj"))
        project, result = timed(
            rows, "Project.create (index headers + write records)",
            lambda: Project.create(root / "proj", root / "images", schema, user="bench"),
        )
        assert len(result.cases) == args.cases, (len(result.cases), result.unreadable[:3])
        project = timed(rows, "Project.open", lambda: Project.open(root / "proj", user="bench"))
        records = timed(rows, "records() of all cases", project.records)
        timed(rows, "status_counts(records)", lambda: project.status_counts(records))
        timed(rows, "open + records + counts (cases panel)",
              lambda: Project.open(root / "proj").status_counts(Project.open(root / "proj").records()))
        case_id = project.case_ids[len(project.case_ids) // 2]

        def change_status():
            with project.editing(case_id):
                project.set_status(case_id, CaseStatus.DONE, "benchmark")

        timed(rows, "lock + set_status + release (one case)", change_status)
        timed(rows, "next 'to do' case after the middle one",
              lambda: project.neighbour_case_id(case_id, statuses=[CaseStatus.TO_DO]))
        text = timed(rows, "`project status` table (records + locks)", lambda: status_text(status_document(project)))
        assert text.count("\n") >= args.cases

        print(f"medsam-gui project benchmark: {args.cases} cases, {what}")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, folder {root}")
        print()
        print(f"{'step':<46} {'seconds':>9} {'ms/case':>9}")
        for step, seconds in rows:
            per_case = seconds * 1000 / args.cases
            print(f"{step:<46} {seconds:>9.3f} {per_case:>9.3f}")
        if args.keep:
            print(f"\nkept: {root}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
