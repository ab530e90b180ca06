"""A stand-in app session for the crash tests: a scripted run of label edits, journaled.

Usage: python journal_victim.py SCAN_PATH SEED EDIT_COUNT COMPACT_BYTES

Opens the scan, attaches the app's Autosaver (edit journal) and makes EDIT_COUNT
scripted user actions (``scripted_action``, seeded): masks added, erased and replaced,
brush strokes, 3D masks, undo and redo, labels added, renamed, recoloured and deleted.
After each action it waits until the journal reports it durable and prints
``durable K``. Then it prints ``done`` and waits to be killed. The test replays the
same script in-process to know the state after every action.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from medsam_gui.core.document import Document


def _rectangle(shape_yx, rng) -> np.ndarray:
    rows, cols = shape_yx
    y0, x0 = int(rng.integers(0, rows - 2)), int(rng.integers(0, cols - 2))
    y1, x1 = int(rng.integers(y0 + 1, rows)), int(rng.integers(x0 + 1, cols))
    mask = np.zeros(shape_yx, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _disc(shape_yx, centre_yx, radius) -> np.ndarray:
    rows, cols = np.ogrid[: shape_yx[0], : shape_yx[1]]
    return (rows - centre_yx[0]) ** 2 + (cols - centre_yx[1]) ** 2 <= radius**2


def scripted_action(document: Document, rng: np.random.Generator) -> None:
    """One user action on ``document``, chosen and shaped by ``rng`` (deterministic)."""
    depth, rows, cols = document.labels.shape
    slice_index = int(rng.integers(0, depth))
    labels = [label.value for label in document.label_table]
    value = int(rng.choice(labels))
    kind = int(rng.integers(0, 11))
    if kind <= 1:
        document.paint_slice(slice_index, _rectangle((rows, cols), rng), value=value, mode="add")
    elif kind == 2:
        document.paint_slice(slice_index, _rectangle((rows, cols), rng), value=value, mode="erase")
    elif kind == 3:
        document.paint_slice(slice_index, _rectangle((rows, cols), rng), value=value, mode="replace",
                             within_yx=_rectangle((rows, cols), rng))
    elif kind == 4:
        document.begin_stroke("brush")
        centre = np.array([rng.integers(0, rows), rng.integers(0, cols)])
        for _dab in range(4):
            centre = np.clip(centre + rng.integers(-3, 4, size=2), 0, [rows - 1, cols - 1])
            document.paint_slice(slice_index, _disc((rows, cols), centre, 3), value=value, mode="add")
        document.end_stroke()
    elif kind == 5:
        mask = np.zeros(document.labels.shape, dtype=bool)
        z0 = int(rng.integers(0, depth - 1))
        mask[z0 : int(rng.integers(z0 + 1, depth + 1))] = _rectangle((rows, cols), rng)
        document.paint_volume(mask, value=value, description="propagate")
    elif kind in (6, 7):
        document.undo()
    elif kind == 8:
        document.redo()
    elif kind == 9:
        if rng.random() < 0.5:
            document.update_label(value, name=f"organ {int(rng.integers(0, 1000))}")
        else:
            document.update_label(value, colour=tuple(int(c) for c in rng.integers(0, 256, size=3)))
    elif len(labels) > 1 and rng.random() < 0.4:
        document.delete_label(value)
    elif len(labels) < 6:
        document.add_label()


def main() -> None:
    from medsam_gui.io.autosave import Autosaver
    from medsam_gui.io.load import open_volume

    scan, seed, count, compact_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    document = Document(open_volume(scan))
    autosaver = Autosaver(compact_bytes=compact_bytes)
    autosaver.start()
    writer = autosaver.attach(document)
    rng = np.random.default_rng(seed)
    for action in range(1, count + 1):
        scripted_action(document, rng)
        writer.wait_durable(writer.last_seq)
        print(f"durable {action}", flush=True)
    print("done", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main()
