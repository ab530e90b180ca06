"""Batch progress: a bar with rate and time left on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Counts images (``total``) and rows; ``advance`` after each image.

    Rate and time left are measured on the images computed in this run (images
    skipped as done earlier count as done but not towards the rate).
    """

    def __init__(self, total_images: int, stream=None, width: int = 28) -> None:
        self.total = total_images
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.width = width
        self.done = 0
        self.computed = 0
        self.rows_computed = 0
        self.started = time.perf_counter()

    def note(self, text: str) -> None:
        """A message line that does not break the bar."""
        if self.interactive:
            self.stream.write("\r\033[K")
        self.stream.write(f"{text}\n")
        self.stream.flush()

    def advance(self, image: str, rows_ok: int, rows_failed: int, seconds: float | None, resumed: bool = False) -> None:
        self.done += 1
        if not resumed:
            self.computed += 1
            self.rows_computed += rows_ok + rows_failed
        elapsed = time.perf_counter() - self.started
        rate = self.rows_computed / elapsed * 60 if elapsed > 0 and self.computed else 0.0
        left = (self.total - self.done) * elapsed / self.computed if self.computed else None
        eta = "?" if left is None else _duration(left)
        if self.interactive:
            filled = int(self.width * self.done / max(self.total, 1))
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r\033[K[{bar}] {self.done}/{self.total} images  {rate:.1f} rows/min  "
                              f"left {eta}  {image[-40:]}")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            if resumed:
                self.stream.write(f"[{self.done}/{self.total}] {image}: done earlier, skipped\n")
            else:
                self.stream.write(f"[{self.done}/{self.total}] {image}: {rows_ok} ok, {rows_failed} failed, "
                                  f"{seconds or 0:.1f} s  ({rate:.1f} rows/min, left {eta})\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.interactive and self.done != self.total:
            self.stream.write("\n")
            self.stream.flush()
