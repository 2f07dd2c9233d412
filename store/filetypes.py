"""What a file is, read from its bytes (never from the name or the type a client claims).

:func:`sniff` names the kind by its signature and checks the structure enough to refuse a
truncated or forged file (:class:`Corrupt`); an unknown kind is ``None``. The kinds are those
staff exchange: photos, PDF, and Office documents (OOXML and the older OLE2 formats).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    ext: str
    mime: str


JPEG = FileType("jpg", "image/jpeg")
PNG = FileType("png", "image/png")
HEIC = FileType("heic", "image/heic")
PDF = FileType("pdf", "application/pdf")
DOCX = FileType("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
XLSX = FileType("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
PPTX = FileType("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation")
DOC = FileType("doc", "application/msword")
XLS = FileType("xls", "application/vnd.ms-excel")
PPT = FileType("ppt", "application/vnd.ms-powerpoint")
ALL = (JPEG, PNG, HEIC, PDF, DOCX, XLSX, PPTX, DOC, XLS, PPT)

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1")
# OOXML: the part that names the document's kind.
_OOXML = (("word/document.xml", DOCX), ("xl/workbook.xml", XLSX), ("ppt/presentation.xml", PPTX))
# OLE2: the stream that names the kind (WPS writes the same streams as Word and Excel).
_OLE = (("WordDocument", DOC), ("Workbook", XLS), ("Book", XLS), ("PowerPoint Document", PPT))
# A document that inflates past this is refused as corrupt rather than opened (a zip bomb).
MAX_UNZIPPED = 256 * 1024 * 1024


class Corrupt(ValueError):
    """The signature of a known kind, but not a whole file of that kind."""


def signature(data: bytes) -> FileType | None:
    """The image kind by its first bytes alone (no structure check): JPEG, PNG or HEIC."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(_PNG_MAGIC):
        return PNG
    if data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS:
        return HEIC
    return None


def sniff(data: bytes, *, max_unzipped: int = MAX_UNZIPPED) -> FileType | None:
    """The kind of ``data``; ``None`` if it is none of :data:`ALL`; :class:`Corrupt` if it
    starts like one but is broken (or is a document inflating past ``max_unzipped``)."""
    image = signature(data)
    if image is JPEG:
        return _jpeg(data)
    if image is PNG:
        return _png(data)
    if image is not None:
        return image
    if data.startswith(b"%PDF-"):
        return _pdf(data)
    if data.startswith(b"PK\x03\x04"):
        return _ooxml(data, max_unzipped)
    if data.startswith(_OLE_MAGIC):
        return _ole(data)
    return None


def _jpeg(data: bytes) -> FileType:
    # The end-of-image marker: cameras may append data after it, a cut-off upload has none.
    if b"\xff\xd9" not in data[3:]:
        raise Corrupt("JPEG without its end marker")
    return JPEG


def _png(data: bytes) -> FileType:
    header = data[8:33]
    if len(header) < 25 or header[4:8] != b"IHDR":
        raise Corrupt("PNG without its header chunk")
    (crc,) = struct.unpack(">I", header[21:25])
    if zlib.crc32(header[4:21]) != crc or b"IEND" not in data[-12:]:
        raise Corrupt("PNG header checksum or end chunk wrong")
    return PNG


def _pdf(data: bytes) -> FileType:
    if b"%%EOF" not in data[-1024:]:  # readers look for it in the last kilobyte too
        raise Corrupt("PDF without its end marker")
    return PDF


def _ooxml(data: bytes, max_unzipped: int) -> FileType | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" not in names:
                return None  # some other zip: not an allowed kind
            if sum(i.file_size for i in archive.infolist()) > max_unzipped:
                raise Corrupt("document inflates too far")
            archive.read("[Content_Types].xml")  # the central directory and one part inflate
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise Corrupt(f"broken zip: {exc}") from None
    return next((kind for part, kind in _OOXML if part in names), None)


def _ole(data: bytes) -> FileType | None:
    # Header: byte order FFFE, sector shift 9 (512) or 12 (4096); the directory follows.
    if len(data) < 1024 or data[28:30] != b"\xfe\xff" or data[30] not in (9, 12):
        raise Corrupt("OLE2 header broken")
    for stream, kind in _OLE:
        # A directory entry: the name in UTF-16LE, NUL-terminated, at the entry's start.
        if (stream + "\0").encode("utf-16-le") in data:
            return kind
    return None
