"""What a unit may attach to its 办结 reply, checked before anything is written: a few files,
each under a size cap and all together under another, of an allowed kind read from the bytes,
with the name shown cleaned of paths and invisible characters.

No I/O here; :mod:`tickets.attachment_store` writes the checked files and their rows.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from store import filetypes
from store.filetypes import FileType
from tickets.lifecycle import LifecycleError

MB = 1024 * 1024
ALLOWED = filetypes.ALL
KINDS_LABEL = "图片（JPEG、PNG、HEIC）、PDF 和 Office 文档（Word、Excel、PowerPoint）"
MAX_STEM = 80  # characters of the shown name before its extension
# Characters that mean something to a file system or a shell on some PC staff download to.
_RESERVED = set('<>:"/\\|?*;')


@dataclass(frozen=True)
class Limits:
    """HOTLINE_ATTACHMENTS__*: per file, per reply (count and bytes)."""

    max_file_bytes: int = 10 * MB
    max_files: int = 5
    max_reply_bytes: int = 20 * MB

    def body_cap(self) -> int:
        """The reply request's body cap: the files plus room for the text and the multipart
        framing; a body past it is a 413 before it is read."""
        return self.max_reply_bytes + 64 * 1024 + self.max_files * 1024


class AttachmentError(LifecycleError):
    """An attachment refused (422 unless the subclass says otherwise); ``code`` is stable."""

    code = "attachment_refused"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class AttachmentTooLarge(AttachmentError):
    """A file, or the reply's files together, over the cap (413)."""

    code = "attachment_too_large"


class AttachmentNotFound(AttachmentError):
    """No such attachment, or one of a ticket the user may not see (the same 404 for both)."""

    code = "attachment_not_found"


@dataclass(frozen=True)
class Upload:
    name: str  # as the client sent it: untrusted
    data: bytes


@dataclass(frozen=True)
class Checked:
    name: str  # cleaned, with the extension of the kind read from the bytes
    kind: FileType
    data: bytes
    sha256: str


def clean_name(raw: str, kind: FileType) -> str:
    """The name shown and offered on download: the last path part only, without control or
    format characters (a right-to-left override could disguise the extension), no leading
    dots, reserved characters replaced, shortened, and ending in the kind's own extension."""
    base = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    base = "".join(
        "_" if ch in _RESERVED else ch for ch in base if unicodedata.category(ch)[0] != "C"
    )
    stem, dot, _ext = base.rpartition(".")
    stem = (stem if dot else base).strip().lstrip(".").strip()
    return f"{stem[:MAX_STEM] or '附件'}.{kind.ext}"


def check(uploads: Sequence[Upload], limits: Limits) -> list[Checked]:
    """Every file accepted, or the first refusal; nothing is written either way."""
    if len(uploads) > limits.max_files:
        raise AttachmentError(f"每次办结最多上传 {limits.max_files} 个附件", "attachment_too_many")
    total = 0
    out = []
    for i, up in enumerate(uploads, 1):
        if not up.data:
            raise AttachmentError(f"第 {i} 个附件是空文件", "attachment_empty")
        if len(up.data) > limits.max_file_bytes:
            raise AttachmentTooLarge(f"第 {i} 个附件超过 {_size(limits.max_file_bytes)}")
        total += len(up.data)
        if total > limits.max_reply_bytes:
            raise AttachmentTooLarge(
                f"附件合计超过 {_size(limits.max_reply_bytes)}", "attachment_reply_too_large"
            )
        kind = _kind(i, up.data)
        digest = hashlib.sha256(up.data).hexdigest()
        out.append(Checked(clean_name(up.name, kind), kind, up.data, digest))
    return out


def _kind(i: int, data: bytes) -> FileType:
    try:
        kind = filetypes.sniff(data)
    except filetypes.Corrupt:
        raise AttachmentError(f"第 {i} 个附件已损坏或不完整", "attachment_corrupt") from None
    if kind is None or kind not in ALLOWED:
        raise AttachmentError(f"第 {i} 个附件的类型不支持：仅支持{KINDS_LABEL}", "attachment_type")
    return kind


def _size(n: int) -> str:
    return f"{n // MB} MB" if n >= MB else f"{n // 1024} KB"
