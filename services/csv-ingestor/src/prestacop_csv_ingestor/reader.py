"""Opening a tickets file: its header, its layout, and where its data starts."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from prestacop_csv_ingestor.exceptions import FileRefusedError
from prestacop_shared.tickets import TicketLayout, UnknownLayoutError, detect_layout

MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class TicketsFile:
    """A file recognised as a parking-tickets file."""

    path: Path
    layout: TicketLayout
    data_offset: int
    """Byte offset of line 2 (the first data line)."""
    size_bytes: int


def open_tickets_file(path: Path) -> TicketsFile:
    """Read and check the header of ``path``.

    Raises:
        FileRefusedError: not a file, empty, header not UTF-8 or not a tickets header.
    """
    if not path.is_file():
        raise FileRefusedError(f"{path}: not a file")
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(MAX_HEADER_BYTES)
    if not head:
        raise FileRefusedError(f"{path.name}: empty file, no header")
    end = head.find(b"\n")
    if end < 0 and len(head) == MAX_HEADER_BYTES:
        raise FileRefusedError(f"{path.name}: no header line in the first {MAX_HEADER_BYTES} bytes")
    header_bytes = head if end < 0 else head[:end]
    data_offset = len(head) if end < 0 else end + 1
    try:
        header_text = header_bytes.decode("utf-8-sig").rstrip("\r")
    except UnicodeDecodeError as error:
        raise FileRefusedError(f"{path.name}: header is not UTF-8 text ({error})") from error
    header = next(csv.reader([header_text]), [])
    try:
        layout = detect_layout(header)
    except UnknownLayoutError as error:
        raise FileRefusedError(f"{path.name}: refused: {error}") from error
    return TicketsFile(path=path, layout=layout, data_offset=data_offset, size_bytes=size)
