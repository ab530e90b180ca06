"""A stand-in app session for the crash test: opens a scan, edits, autosaves in a loop.

Usage: python autosave_victim.py SCAN_PATH
Prints 'autosaved' after the first autosave, then keeps editing and autosaving
(alternating two known label states) until it is killed.
"""

import sys

import numpy as np

from medsam_gui.core.document import Document
from medsam_gui.io.autosave import Autosaver
from medsam_gui.io.load import open_volume


def state_a(shape_zyx):
    mask = np.zeros(shape_zyx, dtype=bool)
    mask[10:20, 30:60, 40:80] = True
    return mask


def state_b(shape_zyx):
    mask = np.zeros(shape_zyx, dtype=bool)
    mask[5:25, 20:50, 50:100] = True
    return mask


def main() -> None:
    document = Document(open_volume(sys.argv[1]))
    document.label_table.update(document.active_label, name="liver")
    autosaver = Autosaver()
    autosaver.start()
    spleen = document.add_label("spleen")
    document.paint_volume(state_a(document.labels.shape), value=spleen)
    document.paint_volume(state_a(document.labels.shape)[:, ::-1], value=1)
    autosaver.save_now(document)
    print("autosaved", flush=True)
    use_b = True
    while True:
        document.undo()
        document.paint_volume(state_b(document.labels.shape) if use_b else state_a(document.labels.shape)[:, ::-1], value=1)
        autosaver.save_now(document)
        use_b = not use_b


if __name__ == "__main__":
    main()
