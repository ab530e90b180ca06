"""The label schema: the same table in every case, no "Liver" next to "liver"."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medsam_gui.core.labelmap import Label, LabelTable
from medsam_gui.project import CodeTriplet, LabelSchema, LabelSchemaError


def test_schema_from_names_and_values():
    schema = LabelSchema.from_names(["liver", " spleen ", "tumour=5", "cyst"])
    assert [(label.value, label.name) for label in schema] == [(1, "liver"), (2, "spleen"), (5, "tumour"), (6, "cyst")]
    table = schema.label_table()
    assert isinstance(table, LabelTable) and [label.name for label in table] == ["liver", "spleen", "tumour", "cyst"]
    assert all(len(label.colour) == 3 for label in table)


def test_schema_refuses_case_insensitive_duplicates_and_shared_values():
    with pytest.raises(LabelSchemaError, match="'Liver' repeats 'liver'"):
        LabelSchema.from_names(["liver", "Liver"])
    with pytest.raises(LabelSchemaError, match="share value 1"):
        LabelSchema.from_names(["liver=1", "spleen=1"])


def test_validate_rejects_liver_next_to_liver_with_a_clear_message():
    schema = LabelSchema.from_names(["liver", "spleen"])
    table = LabelTable([Label(1, "liver", (1, 2, 3)), Label(3, "Liver", (4, 5, 6))])
    with pytest.raises(LabelSchemaError) as caught:
        schema.validate_label_table(table)
    message = str(caught.value)
    assert "'Liver' (value 3) duplicates 'liver' (value 1)" in message and "without case" in message


def test_validate_rejects_names_outside_the_schema_and_wrong_values():
    schema = LabelSchema.from_names(["liver", "spleen"])
    with pytest.raises(LabelSchemaError, match=r"'kidney' \(value 2\) is not a label of this project \(its labels: liver, spleen\)"):
        schema.validate_label_table(LabelTable([Label(2, "kidney", (1, 2, 3))]))
    with pytest.raises(LabelSchemaError, match="'spleen' has value 1 here but 2 in the project's schema"):
        schema.validate_label_table(LabelTable([Label(1, "spleen", (1, 2, 3))]))


def test_validate_normalises_spelling_and_completes_the_table():
    schema = LabelSchema.from_names(["liver", "spleen"])
    checked = schema.validate_label_table(LabelTable([Label(1, "  LIVER ", (9, 9, 9), visible=False)]))
    assert [(label.value, label.name, label.visible) for label in checked] == [(1, "liver", False), (2, "spleen", True)]
    assert checked.get(1).colour == schema.find("liver").colour
    assert schema.normalise_name("Spleen").name == "spleen"
    with pytest.raises(LabelSchemaError, match="not a label of this project"):
        schema.normalise_name("lung")


def test_label_values_outside_the_schema_are_refused():
    schema = LabelSchema.from_names(["liver", "spleen"])
    labels = np.zeros((2, 3, 3), dtype=np.uint8)
    labels[0, 0, 0] = 2
    schema.check_label_values(labels)
    labels[1, 1, 1] = 7
    with pytest.raises(LabelSchemaError, match=r"values \[7\]"):
        schema.check_label_values(labels)


def test_schema_file_with_snomed_codes_round_trips(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"labels": [
        {"value": 1, "name": "liver", "colour": [200, 100, 50],
         "category": {"value": "123037004", "scheme": "SCT", "meaning": "Anatomical Structure"},
         "type": ["10200004", "SCT", "Liver"]},
        {"value": 2, "name": "lesion"},
    ]}))
    schema = LabelSchema.from_file(path)
    liver = schema.find("Liver")
    assert liver.colour == (200, 100, 50)
    assert liver.type == CodeTriplet("10200004", "SCT", "Liver")
    assert schema.find("lesion").category is None
    assert LabelSchema.from_json(schema.to_json()) == schema
