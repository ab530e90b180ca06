"""The label schema of a project: the same names, values and colours in every case.

Names are compared without case and with runs of white space collapsed, so an
annotator cannot create "Liver" next to "liver": :meth:`LabelSchema.validate_label_table`
rejects such duplicates and names outside the schema with one sentence per problem,
and gives back the table spelled as the schema spells it. Optional SNOMED CT codes
(category and type, as value/scheme/meaning triplets) are written into DICOM SEG
segments on export; a label without codes gets them from its name
(``medsam_gui.io.segment_codes``), as in the app's own SEG export.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medsam_gui.core.labelmap import MAX_LABEL_VALUE, Label, LabelTable, default_label
from medsam_gui.project.errors import LabelSchemaError, ProjectError


def name_key(name: str) -> str:
    """How label names are compared: case-insensitive, white space collapsed."""
    return " ".join(str(name).split()).casefold()


@dataclass(frozen=True)
class CodeTriplet:
    """A coded concept: ``value`` (e.g. '10200004'), ``scheme`` ('SCT'), ``meaning`` ('Liver')."""

    value: str
    scheme: str
    meaning: str

    def to_json(self) -> dict:
        return {"value": self.value, "scheme": self.scheme, "meaning": self.meaning}

    @classmethod
    def from_json(cls, data) -> "CodeTriplet":
        if isinstance(data, (list, tuple)) and len(data) == 3:
            return cls(str(data[0]), str(data[1]), str(data[2]))
        return cls(str(data["value"]), str(data["scheme"]), str(data["meaning"]))


@dataclass(frozen=True)
class SchemaLabel:
    """One label of the schema: voxel ``value`` (1..255), ``name``, RGB ``colour``, optional codes."""

    value: int
    name: str
    colour: tuple[int, int, int]
    category: CodeTriplet | None = None
    type: CodeTriplet | None = None

    def to_label(self, visible: bool = True) -> Label:
        return Label(self.value, self.name, self.colour, visible)

    def to_json(self) -> dict:
        data = {"value": self.value, "name": self.name, "colour": list(self.colour)}
        if self.category is not None:
            data["category"] = self.category.to_json()
        if self.type is not None:
            data["type"] = self.type.to_json()
        return data


def default_colour(value: int) -> tuple[int, int, int]:
    """The colour the app gives a new label of ``value`` (its palette, by value)."""
    return default_label(int(value))[1]


class LabelSchema:
    """The fixed, ordered list of labels of a project (immutable)."""

    def __init__(self, labels: Sequence[SchemaLabel]) -> None:
        problems = []
        by_key: dict[str, SchemaLabel] = {}
        by_value: dict[int, SchemaLabel] = {}
        for label in labels:
            if not name_key(label.name):
                problems.append(f"label value {label.value} has no name")
                continue
            if not 1 <= int(label.value) <= MAX_LABEL_VALUE:
                problems.append(f"'{label.name}' has value {label.value}; values must be 1..{MAX_LABEL_VALUE}")
                continue
            if len(label.colour) != 3 or not all(0 <= int(c) <= 255 for c in label.colour):
                problems.append(f"'{label.name}' has colour {label.colour}; give three values 0..255")
                continue
            key = name_key(label.name)
            if key in by_key:
                problems.append(f"'{label.name}' repeats '{by_key[key].name}' (names are compared without case)")
            elif label.value in by_value:
                problems.append(f"'{label.name}' and '{by_value[label.value].name}' share value {label.value}")
            else:
                by_key[key] = label
                by_value[int(label.value)] = label
        if not labels:
            problems.append("a project needs at least one label")
        if problems:
            raise LabelSchemaError("invalid label schema: " + "; ".join(problems))
        self._labels = tuple(sorted(by_value.values(), key=lambda label: label.value))
        self._by_key = by_key
        self._by_value = by_value

    # construction ---------------------------------------------------------------------

    @classmethod
    def from_names(cls, names: Iterable[str]) -> "LabelSchema":
        """A schema from names in order (values 1, 2, ...); ``name=value`` sets a value.

        Colours are the app's palette colours by value.
        """
        labels = []
        next_value = 1
        for raw in names:
            text = str(raw).strip()
            if not text:
                continue
            if "=" in text:
                name, _, value_text = text.rpartition("=")
                try:
                    value = int(value_text)
                except ValueError as error:
                    raise LabelSchemaError(f"'{text}': the value after '=' must be a number") from error
            else:
                name, value = text, next_value
            name = " ".join(name.split())
            labels.append(SchemaLabel(value, name, default_colour(value)))
            next_value = max(next_value, value) + 1
        return cls(labels)

    @classmethod
    def from_json(cls, data) -> "LabelSchema":
        """A schema from ``{"labels": [...]}`` or a list of ``{"value", "name", "colour"?, "category"?, "type"?}``.

        ``colour`` is optional (the app's palette colour for the value); ``category``/``type`` are
        ``{"value", "scheme", "meaning"}`` objects or 3-item lists.
        """
        entries = data.get("labels") if isinstance(data, dict) else data
        if not isinstance(entries, list):
            raise LabelSchemaError("a label schema is a list of labels (or {\"labels\": [...]})")
        labels = []
        for position, entry in enumerate(entries):
            try:
                if isinstance(entry, str):
                    entry = {"name": entry, "value": position + 1}
                name = " ".join(str(entry["name"]).split())
                value = int(entry.get("value", position + 1))
                colour = entry.get("colour", entry.get("color"))
                labels.append(
                    SchemaLabel(
                        value=value,
                        name=name,
                        colour=tuple(int(c) for c in colour) if colour else default_colour(value),
                        category=CodeTriplet.from_json(entry["category"]) if entry.get("category") else None,
                        type=CodeTriplet.from_json(entry["type"]) if entry.get("type") else None,
                    )
                )
            except (KeyError, TypeError, ValueError) as error:
                raise LabelSchemaError(f"label entry {position + 1} ({entry!r}) is incomplete: {error}") from error
        return cls(labels)

    @classmethod
    def from_file(cls, path: str | Path) -> "LabelSchema":
        """A schema from a JSON file (see :meth:`from_json`)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ProjectError(f"cannot read the label schema ({error.strerror})", path) from error
        except json.JSONDecodeError as error:
            raise ProjectError(f"the label schema is not valid JSON ({error})", path) from error
        try:
            return cls.from_json(data)
        except LabelSchemaError as error:
            raise LabelSchemaError(error.reason, path) from error

    def to_json(self) -> dict:
        return {"labels": [label.to_json() for label in self._labels]}

    # reading ---------------------------------------------------------------------------

    @property
    def labels(self) -> tuple[SchemaLabel, ...]:
        """The labels ordered by value."""
        return self._labels

    @property
    def names(self) -> list[str]:
        return [label.name for label in self._labels]

    def __iter__(self) -> Iterator[SchemaLabel]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def __eq__(self, other) -> bool:
        return isinstance(other, LabelSchema) and self._labels == other._labels

    def find(self, name: str) -> SchemaLabel | None:
        """The label called ``name`` (compared without case), or None."""
        return self._by_key.get(name_key(name))

    def by_value(self, value: int) -> SchemaLabel | None:
        return self._by_value.get(int(value))

    def label_table(self) -> LabelTable:
        """The schema as a fresh core LabelTable: what every case opens with."""
        return LabelTable([label.to_label() for label in self._labels])

    # validation ------------------------------------------------------------------------

    def _names_text(self) -> str:
        return ", ".join(self.names)

    def normalise_name(self, name: str) -> SchemaLabel:
        """The schema label a typed name means ("Liver " -> liver); LabelSchemaError if none."""
        label = self.find(name)
        if label is None:
            raise LabelSchemaError(f"'{name}' is not a label of this project (its labels: {self._names_text()})")
        return label

    def validate_label_table(self, table: LabelTable) -> LabelTable:
        """Check ``table`` against the schema and return it as the schema spells it.

        Each entry must name a schema label (without regard to case) with the schema's
        value; no two entries may have the same name without regard to case. The result
        holds every schema label (missing ones added) with the schema's names and
        colours, keeping each entry's visibility.

        Raises:
            LabelSchemaError: one sentence per offending entry.
        """
        problems = []
        seen: dict[str, Label] = {}
        visible: dict[int, bool] = {}
        for label in table:
            key = name_key(label.name)
            if key in seen:
                first = seen[key]
                problems.append(
                    f"'{label.name}' (value {label.value}) duplicates '{first.name}' (value {first.value}); "
                    "label names are compared without case"
                )
                continue
            seen[key] = label
            schema_label = self.find(label.name)
            if schema_label is None:
                problems.append(
                    f"'{label.name}' (value {label.value}) is not a label of this project "
                    f"(its labels: {self._names_text()})"
                )
            elif schema_label.value != label.value:
                problems.append(
                    f"'{label.name}' has value {label.value} here but {schema_label.value} in the project's schema"
                )
            else:
                visible[schema_label.value] = label.visible
        if problems:
            raise LabelSchemaError("the label table does not fit the project: " + "; ".join(problems))
        return LabelTable([label.to_label(visible.get(label.value, True)) for label in self._labels])

    def check_label_values(self, labels_zyx: np.ndarray) -> None:
        """LabelSchemaError when ``labels_zyx`` holds a non-zero value that is not a schema label."""
        present = np.flatnonzero(np.bincount(np.asarray(labels_zyx, dtype=np.uint8).reshape(-1), minlength=256))
        unknown = [int(value) for value in present if value and int(value) not in self._by_value]
        if unknown:
            raise LabelSchemaError(
                f"the labels hold values {unknown} that are not labels of this project "
                f"({', '.join(f'{label.value} {label.name}' for label in self._labels)})"
            )
