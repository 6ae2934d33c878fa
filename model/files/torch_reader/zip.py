"""The zip that ``torch.save`` writes, read from its own directory, bounded before anything is
unpacked: ``NAME/data.pkl``, ``NAME/data/0 .. N`` (one record per storage), ``NAME/byteorder``
and ``NAME/version`` (and a few small records of torch's own).

The end-of-directory record (zip64 too: torch always writes one) gives the record count, checked
against :data:`viz.limits.TORCH_ZIP_ENTRIES` before the directory is read; each directory entry
is read by hand (no ``zipfile`` objects for an attacker's count of entries), its record's local
header is found inside the file, the records may not overlap, a stored record's declared sizes
must agree with each other, with the data descriptor torch writes after it and with the bytes
there (CRC-32), and a deflated one (torch never deflates, other zip tools may) is unpacked only
up to its declared size, itself bounded. Standard library only.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from viz.limits import TORCH_PICKLE_BYTES, TORCH_ZIP_ENTRIES
from viz.network.card import CardError, show

ZIP_MAGIC = b"PK\x03\x04"
_EOCD = b"PK\x05\x06"
_EOCD64 = b"PK\x06\x06"
_LOCATOR64 = b"PK\x06\x07"
_CENTRAL = b"PK\x01\x02"
_DESCRIPTOR = b"PK\x07\x08"
NAME_CHARS = 512  # a record's name: torch's are NAME/data/123


@dataclass(frozen=True)
class Record:
    """One zip record: where its bytes lie in the file and how they are packed."""

    name: str
    method: int  # 0 stored, 8 deflated
    start: int  # first byte of its (packed) data in the file
    packed: int
    size: int
    crc: int


def _fail(source: str, why: str) -> CardError:
    return CardError(f"{source}: not a PyTorch file torch.save wrote ({why}); save the "
                     f"weights again with torch.save(model.state_dict(), \"net.pt\").")


def _end(data: bytes, source: str) -> tuple[int, int]:
    """(records, where the directory starts) from the end-of-directory records."""
    at = data.rfind(_EOCD, max(0, len(data) - 22 - 0xFFFF))
    if at < 0 or at + 22 > len(data):
        raise _fail(source, "no zip directory at its end: cut short?")
    _, _, _, n_here, n_all, _size, start, _comment = struct.unpack("<IHHHHIIH", data[at:at + 22])
    if n_all == 0xFFFF or start == 0xFFFFFFFF:  # zip64: its locator sits just before
        loc = at - 20
        if loc < 0 or data[loc:loc + 4] != _LOCATOR64:
            raise _fail(source, "a zip64 directory without its locator")
        (where,) = struct.unpack("<Q", data[loc + 8:loc + 16])
        if where + 56 > len(data) or data[where:where + 4] != _EOCD64:
            raise _fail(source, "its zip64 directory record lies outside the file")
        n_here, n_all, _size, start = struct.unpack("<QQQQ", data[where + 24:where + 56])
    if n_here != n_all:
        raise _fail(source, "a zip split over several disks")
    return n_all, start


def _zip64_sizes(extra: bytes, size: int, packed: int, offset: int) -> tuple[int, int, int]:
    """Sizes and offset from a zip64 extra field, for the values the entry left at 0xFFFFFFFF."""
    i = 0
    while i + 4 <= len(extra):
        kind, length = struct.unpack("<HH", extra[i:i + 4])
        body = extra[i + 4:i + 4 + length]
        if kind == 1:
            values = [v for (v,) in struct.iter_unpack("<Q", body[:len(body) // 8 * 8])]
            if size == 0xFFFFFFFF and values:
                size = values.pop(0)
            if packed == 0xFFFFFFFF and values:
                packed = values.pop(0)
            if offset == 0xFFFFFFFF and values:
                offset = values.pop(0)
        i += 4 + length
    return size, packed, offset


def directory(data: bytes, source: str) -> dict[str, Record]:
    """{name: record} of a torch.save zip, every size checked (see the module docstring); no
    record is unpacked. Raises CardError."""
    count, pos = _end(data, source)
    if count > TORCH_ZIP_ENTRIES:
        raise CardError(f"{source}: {count:,} records in the zip; a state dict here has at most "
                        f"{TORCH_ZIP_ENTRIES:,} (one per tensor).")
    records: dict[str, Record] = {}
    spans: list[tuple[int, int]] = []
    for _ in range(count):
        if pos + 46 > len(data) or data[pos:pos + 4] != _CENTRAL:
            raise _fail(source, "its zip directory is cut short or corrupt")
        (_, _, _, flags, method, _, _, crc, packed, size, n_name, n_extra, n_comment, _, _, _,
         offset) = struct.unpack("<IHHHHHHIIIHHHHHII", data[pos:pos + 46])
        if n_name > NAME_CHARS:
            raise _fail(source, "a record name too long")
        raw_name = data[pos + 46:pos + 46 + n_name]
        name = raw_name.decode("utf-8", "replace")
        extra = data[pos + 46 + n_name:pos + 46 + n_name + n_extra]
        size, packed, offset = _zip64_sizes(extra, size, packed, offset)
        pos += 46 + n_name + n_extra + n_comment
        if flags & 0x1:
            raise CardError(f"{source}: record {show(name)} is encrypted.")
        if method not in (0, 8):
            raise CardError(f"{source}: record {show(name)} is packed with method {method}; "
                            f"torch.save stores its records unpacked.")
        if method == 0 and packed != size:
            raise CardError(f"{source}: record {show(name)} is stored, yet declares {size:,} "
                            f"bytes and {packed:,} packed: its sizes disagree.")
        if offset + 30 > len(data) or data[offset:offset + 4] != ZIP_MAGIC:
            raise _fail(source, f"record {show(name)}'s header lies outside the file")
        n1, n2 = struct.unpack("<HH", data[offset + 26:offset + 30])
        start = offset + 30 + n1 + n2
        end = start + packed
        if data[offset + 30:offset + 30 + n1] != raw_name:
            raise _fail(source, f"record {show(name)}'s header names another record")
        if end > len(data):
            raise CardError(f"{source}: record {show(name)} declares {packed:,} bytes, past the "
                            f"end of the file ({len(data):,} bytes): its sizes lie or the file "
                            f"is cut short.")
        if flags & 0x8:  # a data descriptor follows: its sizes must be the directory's
            _descriptor(data, end, name, crc, packed, size, source)
        if name in records:
            raise _fail(source, f"two records named {show(name)}")
        records[name] = Record(name, method, start, packed, size, crc)
        spans.append((offset, end))
    spans.sort()
    for (_, a_end), (b_start, _) in zip(spans, spans[1:]):
        if b_start < a_end:
            raise CardError(f"{source}: its zip records overlap (a zip bomb's trick); refused.")
    return records


def _descriptor(data: bytes, end: int, name: str, crc: int, packed: int, size: int,
                source: str) -> None:
    at = end + (4 if data[end:end + 4] == _DESCRIPTOR else 0)
    for fmt in ("<IQQ", "<III"):
        width = struct.calcsize(fmt)
        if at + width <= len(data) and struct.unpack(fmt, data[at:at + width]) == \
                (crc, packed, size):
            return
    raise CardError(f"{source}: record {show(name)}'s sizes after its data disagree with the "
                    f"directory's: its sizes lie or the file is corrupt.")


def unpack(data: bytes, rec: Record, limit: int, source: str) -> bytes:
    """A record's bytes, at most ``limit`` of them (checked on its declared size first, and
    while a deflated one is unpacked), its CRC-32 checked. Raises CardError."""
    if rec.size > limit:
        raise CardError(f"{source}: record {show(rec.name)} declares {rec.size:,} bytes; at most "
                        f"{limit:,} are read (a zip bomb, or a network over this server's "
                        f"limits).")
    raw = data[rec.start:rec.start + rec.packed]
    if rec.method == 8:
        inflater = zlib.decompressobj(-15)
        try:
            raw = inflater.decompress(raw, rec.size + 1)
        except zlib.error:
            raise CardError(f"{source}: record {show(rec.name)} cannot be unpacked.") from None
        if len(raw) != rec.size or inflater.unconsumed_tail:
            raise CardError(f"{source}: record {show(rec.name)} unpacks to another size than "
                            f"it declares ({rec.size:,} bytes): a zip bomb or a corrupt file.")
    if zlib.crc32(raw) != rec.crc:
        raise CardError(f"{source}: record {show(rec.name)} fails its checksum: the file is "
                        f"corrupt or was cut short; copy it again.")
    return raw


def torch_records(data: bytes, source: str) -> tuple[str, dict[str, Record]]:
    """(the archive's folder, its records) of a torch.save zip: one folder holding data.pkl."""
    records = directory(data, source)
    pickles = [n for n in records if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise _fail(source, "no NAME/data.pkl in the zip" if not pickles
                    else "several data.pkl records")
    folder = pickles[0][: -len("data.pkl")]
    if records[pickles[0]].size > TORCH_PICKLE_BYTES:
        raise CardError(f"{source}: its data.pkl declares {records[pickles[0]].size:,} bytes; "
                        f"a state dict's is far smaller (at most {TORCH_PICKLE_BYTES:,} are "
                        f"read).")
    return folder, records


__all__ = ["NAME_CHARS", "Record", "ZIP_MAGIC", "directory", "torch_records", "unpack"]
