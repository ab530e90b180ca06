"""Coded meaning of a label for DICOM SEG: SNOMED CT category and type from its name.

Common anatomy gets its own SNOMED CT code (category 'Anatomical Structure');
tumours and lesions get category 'Morphologically Abnormal Structure'; any other
name falls back to the generic category and type 'Tissue'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

# Keyword found in a label name (lower case, words) -> pydicom SCT code attribute.
ANATOMY_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("liver", "Liver"),
    ("spleen", "Spleen"),
    ("kidney", "Kidney"),
    ("pancreas", "Pancreas"),
    ("stomach", "Stomach"),
    ("gallbladder", "Gallbladder"),
    ("gall bladder", "Gallbladder"),
    ("aorta", "Aorta"),
    ("lung", "Lung"),
    ("heart", "Heart"),
    ("urinary bladder", "Bladder"),
    ("bladder", "Bladder"),
    ("vertebra", "Vertebra"),
    ("esophagus", "Esophagus"),
    ("oesophagus", "Esophagus"),
    ("duodenum", "Duodenum"),
    ("colon", "Colon"),
    ("small bowel", "SmallIntestine"),
    ("small intestine", "SmallIntestine"),
    ("adrenal", "AdrenalGland"),
    ("inferior vena cava", "InferiorVenaCava"),
    ("portal vein", "PortalVein"),
    ("brain", "Brain"),
    ("prostate", "Prostate"),
    ("trachea", "Trachea"),
    ("spinal cord", "SpinalCord"),
    ("rectum", "Rectum"),
    ("uterus", "Uterus"),
    ("thyroid", "Thyroid"),
    ("breast", "Breast"),
    ("femur", "Femur"),
    ("rib", "Rib"),
    ("sacrum", "Sacrum"),
    ("skull", "Skull"),
    ("muscle", "Muscle"),
    ("bone", "Bone"),
)

ABNORMAL_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("tumour", "Tumor"),
    ("tumor", "Tumor"),
    ("neoplasm", "Neoplasm"),
    ("lesion", "Lesion"),
    ("mass", "Mass"),
)


@dataclass(frozen=True)
class SegmentCoding:
    """SNOMED CT codes for one segment: ``category`` (e.g. Anatomical Structure) and ``type`` (e.g. Liver)."""

    category: Code
    type: Code


def _words(name: str) -> str:
    return " " + " ".join(re.split(r"[\s_\-.,/]+", name.lower())).strip() + " "


def _matches(words: str, keyword: str) -> bool:
    # whole-word prefix match: 'kidney' matches 'kidney left', 'lungs'; 'rib' does not match 'fibrosis'
    return f" {keyword}" in words


def coding_for_label_name(name: str) -> SegmentCoding:
    """The SNOMED CT category and type for a label called ``name``."""
    words = _words(name)
    for keyword, attribute in ABNORMAL_KEYWORDS:
        if _matches(words, keyword):
            return SegmentCoding(codes.SCT.MorphologicallyAbnormalStructure, getattr(codes.SCT, attribute))
    for keyword, attribute in ANATOMY_KEYWORDS:
        if _matches(words, keyword):
            return SegmentCoding(codes.SCT.AnatomicalStructure, getattr(codes.SCT, attribute))
    return SegmentCoding(codes.SCT.Tissue, codes.SCT.Tissue)
