"""Label names and colours next to a labelmap, in the files 3D Slicer and ITK-SNAP read.

- 3D Slicer colour table ``<stem>.ctbl``: lines ``value name R G B A`` (0-255), ``#``
  comments; names hold no spaces (Slicer writes them with underscores).
- ITK-SNAP label description ``<stem>.label.txt``: lines
  ``IDX R G B A VIS MSH "LABEL"`` with A a float 0..1.

``<stem>`` is the labelmap's file name without its (double) extension, so
``liver.nii.gz`` gets ``liver.ctbl`` and ``liver.label.txt``.
"""

from __future__ import annotations

import re
from pathlib import Path

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.core.labelmap import MAX_LABEL_VALUE, Label, LabelTable
from medsam_gui.io.atomic import atomic_write_text, full_suffix

SLICER_SUFFIX = ".ctbl"
ITKSNAP_SUFFIX = ".label.txt"


def sidecar_paths(labelmap_path: str | Path) -> tuple[Path, Path]:
    """(Slicer ``.ctbl`` path, ITK-SNAP ``.label.txt`` path) for a labelmap file."""
    path = Path(labelmap_path)
    stem = path.name[: len(path.name) - len(full_suffix(path))]
    return path.with_name(stem + SLICER_SUFFIX), path.with_name(stem + ITKSNAP_SUFFIX)


def slicer_color_table_text(label_table: LabelTable) -> str:
    """The ``.ctbl`` text for ``label_table`` (background 0 included, transparent)."""
    lines = ["# Color table file written by medsam-gui", f"# {len(label_table) + 1} values", "0 Background 0 0 0 0"]
    for label in label_table:
        name = re.sub(r"\s+", "_", label.name.strip()) or f"label_{label.value}"
        red, green, blue = label.colour
        lines.append(f"{label.value} {name} {red} {green} {blue} 255")
    return "\n".join(lines) + "\n"


def itksnap_label_text(label_table: LabelTable) -> str:
    """The ITK-SNAP label description text for ``label_table``."""
    lines = [
        "################################################",
        "# ITK-SnAP Label Description File (written by medsam-gui)",
        "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL",
        "################################################",
        '    0     0    0    0        0  0  0    "Clear Label"',
    ]
    for label in label_table:
        red, green, blue = label.colour
        name = label.name.replace('"', "'")
        visible = 1 if label.visible else 0
        lines.append(f'{label.value:5d} {red:5d} {green:4d} {blue:4d}        1  {visible}  1    "{name}"')
    return "\n".join(lines) + "\n"


def write_sidecars(labelmap_path: str | Path, label_table: LabelTable) -> tuple[Path, Path]:
    """Write both sidecars atomically next to ``labelmap_path``; returns their paths."""
    slicer_path, itksnap_path = sidecar_paths(labelmap_path)
    atomic_write_text(slicer_path, slicer_color_table_text(label_table))
    atomic_write_text(itksnap_path, itksnap_label_text(label_table))
    return slicer_path, itksnap_path


def read_color_table(path: str | Path) -> LabelTable:
    """Read a Slicer ``.ctbl`` or an ITK-SNAP ``.label.txt`` into a LabelTable (0 skipped).

    Raises UnreadableInputError naming the file and line when a line cannot be parsed.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise UnreadableInputError(f"cannot read the colour table ({error.strerror})", path) from error
    itksnap = path.name.lower().endswith(ITKSNAP_SUFFIX)
    labels: list[Label] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            label = _parse_itksnap_line(stripped) if itksnap else _parse_slicer_line(stripped)
        except (ValueError, IndexError) as error:
            raise UnreadableInputError(f"line {line_number} is not a colour table entry: {stripped!r}", path) from error
        if label is not None:
            labels.append(label)
    return LabelTable(labels)


def find_sidecar(labelmap_path: str | Path) -> Path | None:
    """The Slicer or ITK-SNAP sidecar next to a labelmap, if one exists."""
    for candidate in sidecar_paths(labelmap_path):
        if candidate.is_file():
            return candidate
    return None


def _parse_slicer_line(line: str) -> Label | None:
    parts = line.split()
    value = int(parts[0])
    if not 1 <= value <= MAX_LABEL_VALUE:
        return None
    red, green, blue = (int(v) for v in parts[2:5])
    return Label(value, parts[1].replace("_", " "), (red, green, blue))


def _parse_itksnap_line(line: str) -> Label | None:
    quoted = re.search(r'"(.*)"', line)
    parts = line[: quoted.start()].split() if quoted else line.split()
    value = int(parts[0])
    if not 1 <= value <= MAX_LABEL_VALUE:
        return None
    red, green, blue = (int(v) for v in parts[1:4])
    visible = int(parts[5]) != 0 if len(parts) > 5 else True
    name = quoted.group(1) if quoted else f"label {value}"
    return Label(value, name, (red, green, blue), visible)
