"""Decode compressed grey DICOM frames with Python's GIL released (imagecodecs).

pydicom's decoder plugins (GDCM, pylibjpeg, Pillow) hold the GIL while they decode a
frame, about 20 ms for a 512 x 512 JPEG 2000 slice. A series read on the loader thread
then starves the UI thread: every Python call it makes while painting or handling the
mouse waits for the frame in progress, and opening the 20-slice JPEG 2000 CT stalled the
window for 120-300 ms (``benchmarks/bench_first_mask.py``, "UI stall"); a prefetched next
case stalled the case being worked on the same way. imagecodecs' codecs release the GIL,
so frames also decode in parallel on several threads.

Used for the transfer syntaxes in :data:`CODECS` with one sample per pixel. Anything else
(colour, other syntaxes, imagecodecs not installed, a frame that fails or whose decoded
size or type does not fit the header) returns None, and the caller decodes with pydicom
as before. Decoded values equal pydicom's (``tests/io/test_dicom_codecs.py`` compares
every such file of the test data).
"""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.encaps import generate_frames

try:
    import imagecodecs
except ImportError:  # optional: pydicom decodes everything without it
    imagecodecs = None

# transfer syntax UID -> name of the imagecodecs decoder for its frames
CODECS = {
    "1.2.840.10008.1.2.4.90": "jpeg2k_decode",  # JPEG 2000 lossless
    "1.2.840.10008.1.2.4.91": "jpeg2k_decode",  # JPEG 2000
    "1.2.840.10008.1.2.4.80": "jpegls_decode",  # JPEG-LS lossless
    "1.2.840.10008.1.2.4.81": "jpegls_decode",  # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.57": "ljpeg_decode",  # JPEG lossless, process 14
    "1.2.840.10008.1.2.4.70": "ljpeg_decode",  # JPEG lossless, process 14, selection value 1
}
# codestreams that carry no sign: signed data comes out as its stored bits' unsigned pattern
UNSIGNED_CODESTREAMS = {"jpegls_decode", "ljpeg_decode"}


def decode_without_gil(dataset: pydicom.Dataset) -> np.ndarray | None:
    """Stored values ``[frames, rows, cols]`` of a grey ``dataset`` (pixel data read),
    decoded with the GIL released; None where pydicom must decode it (see the module
    docstring)."""
    transfer_syntax = str(getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", ""))
    codec = CODECS.get(transfer_syntax)
    if imagecodecs is None or codec is None or "PixelData" not in dataset:
        return None
    if int(dataset.get("SamplesPerPixel", 1) or 1) != 1:
        return None
    rows, cols = int(dataset.Rows), int(dataset.Columns)
    frame_count = max(int(dataset.get("NumberOfFrames", 1) or 1), 1)
    signed = int(dataset.get("PixelRepresentation", 0) or 0) == 1
    bits_stored = int(dataset.get("BitsStored", 0) or 0)
    bits_allocated = int(dataset.get("BitsAllocated", 0) or 0)
    if bits_allocated not in (8, 16) or not 0 < bits_stored <= bits_allocated:
        return None
    frames = []
    try:
        decode = getattr(imagecodecs, codec)  # a lazy import: absent from a build that left it out
        for fragment in generate_frames(dataset.PixelData, number_of_frames=frame_count):
            frame = np.asarray(decode(fragment))
            frame = _as_header_type(frame, signed, bits_stored, bits_allocated, codec)
            if frame is None or frame.shape != (rows, cols):
                return None
            frames.append(frame)
    except Exception:  # imagecodecs raises its own error types; pydicom gets its turn
        return None
    if len(frames) != frame_count:
        return None
    return np.stack(frames)


def _as_header_type(frame: np.ndarray, signed: bool, bits_stored: int, bits_allocated: int,
                    codec: str) -> np.ndarray | None:
    """``frame`` in the integer type the header describes, or None when it does not fit."""
    if frame.dtype.kind not in "iu" or frame.dtype.itemsize * 8 > bits_allocated:
        return None
    wanted = np.dtype(f"{'i' if signed else 'u'}{bits_allocated // 8}")
    if frame.dtype.kind == wanted.kind:
        return frame.astype(wanted, copy=False)
    if signed and codec in UNSIGNED_CODESTREAMS:
        # two's complement in the low ``bits_stored`` bits
        values = frame.astype(np.int32)
        values[values >= 1 << (bits_stored - 1)] -= 1 << bits_stored
        return values.astype(wanted)
    return None  # a JPEG 2000 codestream whose sign disagrees with the header: pydicom's corrections
