"""Edit journal: every change to a case's labels is on disk within moments, off the UI thread.

Two files per case and app process (``<name>`` chosen by the Autosaver):

- ``<name>.snapshot``: a session file (``session.py``) holding the labels, label table
  and view as of journal sequence number S (``extra["journal_seq"]``), written atomically.
- ``<name>.journal``: append-only records, one per Document change (``DocumentChange``)::

      record  = MAGIC (4 bytes) | payload length (u32 LE) | CRC-32 of payload (u32 LE) | payload
      payload = header length (u32 LE) | header (UTF-8 JSON) | blobs
      header  = {"seq": n, "view": {...}, "table": [...] (only when it changed),
                 "writes": [{"box": [z0, z1, y0, y1, x0, x1], "shape": [dz, dy, dx],
                             "bits": byte count, "values": byte count}, ...]}

  Each write puts ``values`` (uint8) at the voxels set in the bit-packed mask ``bits`` of
  its box; an undo is written as the edit's old values. A record that is cut short or
  fails its checksum (a kill in the middle of a write) ends the journal: it is dropped
  and can never corrupt what came before it.

Recovery reads the snapshot, then applies every record with a sequence number above S,
in order: the labels and table of the last durable change, exactly.

:class:`JournalWriter` takes changes on the UI thread (``record`` only queues them) and
a writer thread appends, flushes and fsyncs them, then publishes ``durable_seq``. The
thread keeps its own copy of the labels (the shadow), replaying each record it writes,
so a compaction (the shadow written as a new snapshot, the journal emptied) costs the
UI thread nothing.
"""

from __future__ import annotations

import json
import os
import queue
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medsam_gui.core.document import DocumentChange
from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.core.labelmap import Label, LabelTable
from medsam_gui.io.session import SessionState, load_session, save_session

MAGIC = b"MSJ1"
FRAME = struct.Struct("<4sII")  # magic, payload length, crc32
HEADER_LENGTH = struct.Struct("<I")
SNAPSHOT_SUFFIX = ".snapshot"
JOURNAL_SUFFIX = ".journal"
DEFAULT_COMPACT_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class CaseIdentity:
    """Which scan a journal belongs to: its path and, for DICOM folders, the series."""

    scan_path: str
    series_uid: str | None


@dataclass
class JournalRecord:
    """One decoded record: its sequence number, view, table (None: unchanged) and writes.

    ``writes`` holds ``(box_zyx, changed_mask [dz, dy, dx] bool, values (n,) uint8)``.
    """

    seq: int
    view: dict
    table: LabelTable | None
    writes: list[tuple[tuple[int, ...], np.ndarray, np.ndarray]] = field(default_factory=list)

    def apply_to(self, labels: np.ndarray) -> None:
        """Write this record's values into ``labels`` ``[z, y, x]`` in place."""
        for (z0, z1, y0, y1, x0, x1), mask, values in self.writes:
            labels[z0:z1, y0:y1, x0:x1][mask] = values


# -- encoding --------------------------------------------------------------------------
def table_to_json(table: LabelTable) -> list[dict]:
    return [{"value": l.value, "name": l.name, "colour": list(l.colour), "visible": l.visible} for l in table]


def table_from_json(entries: list[dict]) -> LabelTable:
    return LabelTable([Label(int(e["value"]), str(e["name"]), tuple(int(c) for c in e["colour"]), bool(e["visible"]))
                       for e in entries])


def encode_record(seq: int, change: DocumentChange, include_table: bool) -> bytes:
    """The framed bytes of one record for ``change`` (see the module docstring)."""
    header: dict = {"seq": seq, "view": change.view, "writes": []}
    if include_table:
        header["table"] = table_to_json(change.label_table)
    blobs = []
    for edit, forward in change.writes:
        values = edit.new_values if forward else edit.old_values
        blobs += [edit.changed_bits.tobytes(), values.tobytes()]
        header["writes"].append({"box": list(edit.box_zyx), "shape": list(edit.block_shape),
                                 "bits": edit.changed_bits.nbytes, "values": values.nbytes})
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    payload = b"".join([HEADER_LENGTH.pack(len(header_bytes)), header_bytes, *blobs])
    return FRAME.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _decode_payload(payload: bytes) -> JournalRecord:
    (header_length,) = HEADER_LENGTH.unpack_from(payload)
    offset = HEADER_LENGTH.size + header_length
    header = json.loads(payload[HEADER_LENGTH.size:offset].decode("utf-8"))
    record = JournalRecord(int(header["seq"]), dict(header["view"]),
                           table_from_json(header["table"]) if "table" in header else None)
    for write in header["writes"]:
        shape = tuple(int(n) for n in write["shape"])
        bits = np.frombuffer(payload, np.uint8, int(write["bits"]), offset)
        offset += int(write["bits"])
        values = np.frombuffer(payload, np.uint8, int(write["values"]), offset)
        offset += int(write["values"])
        mask = np.unpackbits(bits, count=int(np.prod(shape))).astype(bool).reshape(shape)
        record.writes.append((tuple(int(n) for n in write["box"]), mask, values))
    return record


def read_journal(path: str | Path) -> tuple[list[JournalRecord], int]:
    """The whole records of a journal file and how many bytes they fill.

    Reading stops at the first record that is cut short or fails its checksum (the
    torn tail of a killed write); what follows it is ignored. A missing file has none.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return [], 0
    records, offset = [], 0
    while offset + FRAME.size <= len(data):
        magic, length, checksum = FRAME.unpack_from(data, offset)
        start, end = offset + FRAME.size, offset + FRAME.size + length
        if magic != MAGIC or end > len(data) or zlib.crc32(data[start:end]) != checksum:
            break
        try:
            records.append(_decode_payload(data[start:end]))
        except (ValueError, KeyError, TypeError, struct.error):
            break
        offset = end
    return records, offset


def recover(snapshot_path: str | Path, journal_path: str | Path) -> SessionState:
    """The state of the last durable change: the snapshot with the newer records applied.

    Raises UnreadableInputError when the snapshot is missing or damaged.
    """
    state = load_session(snapshot_path)
    snapshot_seq = int(state.extra.get("journal_seq", 0))
    records, _ = read_journal(journal_path)
    for record in records:
        if record.seq <= snapshot_seq:
            continue
        record.apply_to(state.labels)
        if record.table is not None:
            state.label_table = record.table
        view = record.view
        state.slice_index, state.active_label = int(view["slice_index"]), int(view["active_label"])
        state.window_center, state.window_width = float(view["window_center"]), float(view["window_width"])
        state.extra["journal_seq"] = record.seq
    return state


# -- writing ---------------------------------------------------------------------------
class JournalWriter:
    """Journals one open case: ``record`` each DocumentChange on the UI thread; a
    writer thread makes it durable.

    Args:
        base: where the files go, without suffix (``<base>.snapshot``, ``<base>.journal``).
        identity: the scan the labels belong to (goes into the snapshot).
        labels: the labels ``[z, y, x]`` uint8 as they are now (copied: the shadow).
        label_table, view: the table and view as they are now.
        extra: JSON fields stored in every snapshot (the owner's process id).
        compact_bytes: the journal is compacted into a new snapshot past this size.
        on_error: called on the writer thread with a message when a write fails.

    Attributes:
        durable_seq: the sequence number of the last change that is on disk (fsynced).
    """

    def __init__(self, base: str | Path, identity: CaseIdentity, labels: np.ndarray, label_table: LabelTable,
                 view: dict, extra: dict | None = None, compact_bytes: int = DEFAULT_COMPACT_BYTES,
                 on_error: Callable[[str], None] | None = None) -> None:
        base = Path(base)
        self.snapshot_path = base.with_name(base.name + SNAPSHOT_SUFFIX)
        self.journal_path = base.with_name(base.name + JOURNAL_SUFFIX)
        self.identity = identity
        self.extra = dict(extra or {})
        self.compact_bytes = compact_bytes
        self.on_error = on_error
        self.durable_seq = 0
        self._seq = 0
        self._shadow = labels.copy()
        self._table = label_table.copy()
        self._view = dict(view)
        self._snapshot_seq: int | None = None  # None: no snapshot on disk yet
        self._journal_bytes = 0
        self._table_written: LabelTable | None = None
        self._queue: queue.Queue = queue.Queue()
        self._durable = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="edit-journal", daemon=True)
        self._thread.start()

    # -- UI thread -----------------------------------------------------------------------
    def record(self, change: DocumentChange) -> int:
        """Queue ``change``; returns its sequence number (see ``wait_durable``)."""
        self._seq += 1
        self._queue.put(("change", self._seq, change))
        return self._seq

    @property
    def last_seq(self) -> int:
        """The sequence number of the last change queued (0: none yet)."""
        return self._seq

    def compact(self) -> None:
        """Ask for a compaction after the queued changes (when there is a journal)."""
        self._queue.put(("compact", self._seq, None))

    def wait_durable(self, seq: int, timeout: float | None = None) -> bool:
        """Block until change ``seq`` is on disk; False on timeout (tests, headless use)."""
        with self._durable:
            return self._durable.wait_for(lambda: self.durable_seq >= seq, timeout)

    def close(self, keep_files: bool, wait: bool = True) -> None:
        """Finish the queued writes and stop; ``keep_files=False`` deletes the journal
        and snapshot (the work was saved or discarded). ``wait=False`` returns at once
        (the thread finishes on its own; ``join`` waits for it)."""
        self._queue.put(("close", self._seq, keep_files))
        if wait:
            self.join()

    def join(self) -> None:
        """Wait until the writer thread has stopped (after ``close``)."""
        self._thread.join()

    @property
    def is_running(self) -> bool:
        return self._thread.is_alive()

    # -- writer thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                closing = self._write_batch(batch)
            except OSError as error:
                closing = any(kind == "close" for kind, _seq, _payload in batch)
                if self.on_error is not None:
                    self.on_error(f"the edit journal could not be written ({error.strerror or error}): {self.journal_path}")
            if closing:
                return

    def _write_batch(self, batch: list) -> bool:
        """Write one batch of queued items; True when it held the close request."""
        last_saved = max((i for i, (kind, _s, payload) in enumerate(batch) if kind == "change" and payload.saved),
                         default=-1)
        chunks, compact_asked, last_seq = [], False, None
        for index, (kind, seq, payload) in enumerate(batch):
            if kind == "close":
                self._finish_writes(chunks, last_seq)
                if not payload:
                    self._delete_files()
                elif compact_asked:
                    self._compact_if_needed(forced=True)
                return True
            if kind == "compact":
                compact_asked = True
                continue
            change: DocumentChange = payload
            written = not change.saved and index > last_saved  # a later save makes a record unneeded
            if written and self._snapshot_seq is None:
                self._write_snapshot(seq - 1)  # the base: the state before the first change
            for edit, forward in change.writes:
                (edit.apply if forward else edit.revert)(self._shadow)
            self._table, self._view = change.label_table, change.view
            if index == last_saved:
                self._delete_files()
                self._publish(seq)
            if written:
                include_table = self._table_written is None or list(self._table) != list(self._table_written)
                chunks.append(encode_record(seq, change, include_table))
                self._table_written = change.label_table
                last_seq = seq
        self._finish_writes(chunks, last_seq)
        self._compact_if_needed(forced=compact_asked)
        return False

    def _compact_if_needed(self, forced: bool) -> None:
        """Fold the journal into a new snapshot when it outgrew ``compact_bytes`` (or
        ``forced`` and it holds anything)."""
        if self._snapshot_seq is not None and self._journal_bytes > (0 if forced else self.compact_bytes):
            self._write_snapshot(self.durable_seq)

    def _finish_writes(self, chunks: list[bytes], last_seq: int | None) -> None:
        if chunks:
            data = b"".join(chunks)
            with open(self.journal_path, "ab") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            self._journal_bytes += len(data)
        if last_seq is not None:
            self._publish(last_seq)

    def _publish(self, seq: int) -> None:
        with self._durable:
            self.durable_seq = max(self.durable_seq, seq)
            self._durable.notify_all()

    def _write_snapshot(self, seq: int) -> None:
        """Write the shadow, table and view as the snapshot at ``seq``; empty the journal."""
        view = self._view
        state = SessionState(
            scan_path=self.identity.scan_path, series_uid=self.identity.series_uid, labels=self._shadow,
            label_table=self._table, window_center=float(view["window_center"]),
            window_width=float(view["window_width"]), slice_index=int(view["slice_index"]),
            active_label=int(view["active_label"]), extra={**self.extra, "journal_seq": seq},
        )
        save_session(state, self.snapshot_path)
        with open(self.journal_path, "wb") as handle:
            os.fsync(handle.fileno())
        self._snapshot_seq, self._journal_bytes, self._table_written = seq, 0, None

    def _delete_files(self) -> None:
        self.snapshot_path.unlink(missing_ok=True)
        self.journal_path.unlink(missing_ok=True)
        self._snapshot_seq, self._journal_bytes, self._table_written = None, 0, None
