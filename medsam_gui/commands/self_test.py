"""``medsam-gui --self-test``: prove an installed app can segment, without a window.

Reads pydicom's bundled CT slice (``CT_small.dcm``, 128 x 128, a thoracic vertebra)
through the app's own reader, loads the bundled LiteMedSAM weights on the CPU, encodes
the slice, decodes a box drawn around the vertebral body and checks that the mask is
sensible. Prints one line and returns 0, or prints the reason and returns 1.

The installers run this as their last step, so it must work from a frozen
(PyInstaller) build: everything it needs is inside the package.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

MODEL_NAME = "litemedsam"
DEVICE = "cpu"
TEST_FILE_NAME = "CT_small.dcm"
# Vertebral body of CT_small.dcm (x0, y0, x1, y1), inclusive corners, in slice pixels.
VERTEBRA_BOX_XYXY = (40, 4, 82, 42)
# Cancellous bone is > 150 HU; the soft tissue around the vertebra is < 100 HU.
MIN_MEAN_HU_INSIDE = 150.0
MIN_BOX_FILL = 0.20
MAX_BOX_FILL = 0.95
MIN_FRACTION_NEAR_BOX = 0.95
BOX_MARGIN_PIXELS = 4


@dataclass(frozen=True)
class SelfTestReport:
    """What one self-test run measured. Times in milliseconds; area in pixels."""

    model: str
    device: str
    load_ms: float
    encode_ms: float
    decode_ms: float
    mask_area: int
    box_area: int
    mean_hu_inside: float
    score: float

    def line(self) -> str:
        return (
            f"self-test OK: model={self.model} device={self.device} load_ms={self.load_ms:.0f} "
            f"encode_ms={self.encode_ms:.0f} decode_ms={self.decode_ms:.1f} "
            f"mask_area={self.mask_area}px ({self.mask_area / self.box_area:.0%} of box) "
            f"mean_HU={self.mean_hu_inside:.0f} score={self.score:.2f}"
        )


class SelfTestFailure(Exception):
    """The self-test could not run or its mask was not sensible; ``str()`` says why."""


def box_area(box_xyxy: tuple[int, int, int, int]) -> int:
    """Pixels inside an inclusive-corner box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box_xyxy
    return (x1 - x0 + 1) * (y1 - y0 + 1)


def mask_problems(mask_yx: np.ndarray, box_xyxy: tuple[int, int, int, int], hu_yx: np.ndarray) -> list[str]:
    """Reasons why ``mask_yx`` is not a sensible segmentation of a bone inside ``box_xyxy``.

    Args:
        mask_yx: bool ``[rows, columns]`` predicted mask.
        box_xyxy: the prompt box (x0, y0, x1, y1), inclusive corners.
        hu_yx: the slice ``[rows, columns]`` in Hounsfield units.
    Returns:
        An empty list when the mask is non-empty, lies inside the box (give or take
        ``BOX_MARGIN_PIXELS``), fills between ``MIN_BOX_FILL`` and ``MAX_BOX_FILL`` of
        it, and covers bone (mean HU above ``MIN_MEAN_HU_INSIDE``).
    """
    if mask_yx.shape != hu_yx.shape:
        return [f"mask shape {mask_yx.shape} differs from the slice shape {hu_yx.shape}"]
    area = int(mask_yx.sum())
    if area == 0:
        return ["the mask is empty"]
    problems = []
    x0, y0, x1, y1 = box_xyxy
    near_box = np.zeros_like(mask_yx, dtype=bool)
    near_box[
        max(y0 - BOX_MARGIN_PIXELS, 0) : y1 + BOX_MARGIN_PIXELS + 1,
        max(x0 - BOX_MARGIN_PIXELS, 0) : x1 + BOX_MARGIN_PIXELS + 1,
    ] = True
    fraction_near_box = float((mask_yx & near_box).sum()) / area
    if fraction_near_box < MIN_FRACTION_NEAR_BOX:
        problems.append(f"only {fraction_near_box:.0%} of the mask lies in or near the box")
    fill = area / box_area(box_xyxy)
    if fill < MIN_BOX_FILL:
        problems.append(f"the mask fills only {fill:.0%} of the box")
    if fill > MAX_BOX_FILL:
        problems.append(f"the mask fills {fill:.0%} of the box (it is the box, not an object)")
    mean_hu = float(hu_yx[mask_yx].mean())
    if mean_hu < MIN_MEAN_HU_INSIDE:
        problems.append(f"mean {mean_hu:.0f} HU inside the mask is not bone (> {MIN_MEAN_HU_INSIDE:.0f} HU)")
    return problems


def _open_test_slice():
    """The app's Volume for pydicom's bundled CT slice (one slice, HU)."""
    from pydicom.data import get_testdata_file

    from medsam_gui.io.load import open_volume

    path = get_testdata_file(TEST_FILE_NAME)
    if path is None:
        raise SelfTestFailure(f"pydicom's test file {TEST_FILE_NAME} is missing from this installation")
    volume = open_volume(path)
    if volume.modality != "CT" or volume.shape_zyx[0] != 1:
        raise SelfTestFailure(f"{path}: read as {volume.modality} {volume.shape_zyx}, expected one CT slice")
    return volume


def segment_test_slice() -> SelfTestReport:
    """Run the whole self-test and return its report; raises SelfTestFailure."""
    from medsam_gui.core.errors import MedsamGuiError
    from medsam_gui.engine import Engine
    from medsam_gui.engine.headless import predict_blocking

    volume = _open_test_slice()
    started = time.perf_counter()
    engine = Engine.create(MODEL_NAME, device=DEVICE, disk_cache=False)  # encode for real, every run
    load_ms = (time.perf_counter() - started) * 1000.0
    engine.set_volume(volume)
    slice_index = 0
    encodes = []
    try:  # encodes what the box needs (the slice, or an ROI-zoom crop) in this thread
        predict_blocking(engine, slice_index, box_xyxy=VERTEBRA_BOX_XYXY, on_encoded=encodes.append)
    except MedsamGuiError as error:
        raise SelfTestFailure(str(error)) from error
    encode_s = sum(result.seconds for result in encodes)
    started = time.perf_counter()
    prediction = engine.predict(slice_index, box_xyxy=VERTEBRA_BOX_XYXY)  # the decoder alone
    decode_ms = (time.perf_counter() - started) * 1000.0
    hu_yx = np.asarray(volume.slice(slice_index), dtype=np.float32)
    mask_yx = np.asarray(prediction.mask, dtype=bool)
    problems = mask_problems(mask_yx, VERTEBRA_BOX_XYXY, hu_yx)
    if problems:
        raise SelfTestFailure("the mask is not sensible: " + "; ".join(problems))
    return SelfTestReport(
        model=MODEL_NAME,
        device=DEVICE,
        load_ms=load_ms,
        encode_ms=encode_s * 1000.0,
        decode_ms=decode_ms,
        mask_area=int(mask_yx.sum()),
        box_area=box_area(VERTEBRA_BOX_XYXY),
        mean_hu_inside=float(hu_yx[mask_yx].mean()),
        score=float(prediction.score),
    )


def run_self_test() -> int:
    """Entry point of ``medsam-gui --self-test``: 0 and one line on success, else 1."""
    try:
        report = segment_test_slice()
    except SelfTestFailure as failure:
        print(f"self-test FAILED: {failure}", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001 - a broken install shows as any exception
        print(f"self-test FAILED: {error.__class__.__name__}: {error}", file=sys.stderr)
        return 1
    print(report.line())
    return 0
