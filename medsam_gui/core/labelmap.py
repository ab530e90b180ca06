"""Labels: a value per voxel ``[z, y, x]`` and a table naming and colouring each value.

Value 0 is background. Values 1..255 are labels (uint8 keeps a 512x512x300 CT's
labelmap at 79 MB).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

MAX_LABEL_VALUE = 255

# Colours new labels get, in order (names stay neutral: "label 1", "label 2", ...).
# They follow common anatomy colour conventions (3D Slicer's GenericAnatomyColors) loosely.
DEFAULT_COLOURS: tuple[tuple[int, int, int], ...] = (
    (221, 130, 101), (157, 108, 162), (185, 102, 83), (216, 101, 79), (241, 214, 145),
    (249, 180, 111), (216, 132, 105), (139, 150, 98), (224, 97, 76), (197, 165, 145),
    (172, 138, 115), (206, 110, 84), (222, 154, 132), (241, 213, 144), (255, 255, 0),
)

# Distinct colours for labels past the default colours (Tableau-like palette).
EXTRA_COLOURS: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)


@dataclass(frozen=True)
class Label:
    """One label: its voxel ``value`` (1..255), ``name``, RGB ``colour`` and visibility."""

    value: int
    name: str
    colour: tuple[int, int, int]
    visible: bool = True


class LabelTable:
    """The labels of a document, ordered by value. Mutated only through its methods."""

    def __init__(self, labels: list[Label] | None = None) -> None:
        self._labels: dict[int, Label] = {}
        for label in labels or []:
            self._check_value(label.value)
            self._labels[label.value] = label

    @staticmethod
    def _check_value(value: int) -> None:
        if not 1 <= int(value) <= MAX_LABEL_VALUE:
            raise ValueError(f"label value must be 1..{MAX_LABEL_VALUE}, got {value}")

    def __iter__(self):
        return iter(sorted(self._labels.values(), key=lambda label: label.value))

    def __len__(self) -> int:
        return len(self._labels)

    def __contains__(self, value: int) -> bool:
        return value in self._labels

    def get(self, value: int) -> Label:
        return self._labels[value]

    def next_free_value(self) -> int:
        for value in range(1, MAX_LABEL_VALUE + 1):
            if value not in self._labels:
                return value
        raise ValueError(f"all {MAX_LABEL_VALUE} label values are in use")

    def add(self, name: str | None = None, colour: tuple[int, int, int] | None = None, value: int | None = None) -> Label:
        """Add a label; the name defaults to "label <value>", the colour to the palette's."""
        value = self.next_free_value() if value is None else int(value)
        self._check_value(value)
        if value in self._labels:
            raise ValueError(f"label value {value} is already used by '{self._labels[value].name}'")
        default_name, default_colour = default_label(value)
        label = Label(value, name or default_name, tuple(colour) if colour else default_colour)
        self._labels[value] = label
        return label

    def update(self, value: int, **changes) -> Label:
        """Change name, colour or visible of label ``value``; returns the new Label."""
        label = replace(self._labels[value], **changes)
        self._labels[value] = label
        return label

    def remove(self, value: int) -> Label:
        return self._labels.pop(value)

    def copy(self) -> "LabelTable":
        return LabelTable(list(self))

    def lookup_table(self) -> np.ndarray:
        """RGBA colours ``[256, 4]`` uint8 by value; hidden labels and 0 are transparent."""
        table = np.zeros((MAX_LABEL_VALUE + 1, 4), dtype=np.uint8)
        for label in self._labels.values():
            if label.visible:
                table[label.value, :3] = label.colour
                table[label.value, 3] = 255
        return table


def default_label(value: int) -> tuple[str, tuple[int, int, int]]:
    """The default (name, colour) for label ``value`` (1-based): ("label <value>", palette colour)."""
    if value <= len(DEFAULT_COLOURS):
        colour = DEFAULT_COLOURS[value - 1]
    else:
        colour = EXTRA_COLOURS[(value - len(DEFAULT_COLOURS) - 1) % len(EXTRA_COLOURS)]
    return f"label {value}", colour


def new_label_array(shape_zyx: tuple[int, int, int]) -> np.ndarray:
    """An empty labelmap ``[z, y, x]`` uint8."""
    return np.zeros(shape_zyx, dtype=np.uint8)
