"""What a unit may attach to its 办结 reply, without I/O: the kind read from the bytes (a
forged or cut-off file refused), the limits, and the name shown cleaned of paths."""

from __future__ import annotations

import pytest

from hotline.settings import ConfigError, load_settings
from store import filetypes
from tests.attachment_files import JPEG, docx, ole, pdf, plain_zip, png, xlsx
from tickets.attachments import (
    MB,
    AttachmentError,
    AttachmentTooLarge,
    Limits,
    Upload,
    check,
    clean_name,
)


def test_kinds_are_read_from_the_bytes() -> None:
    assert filetypes.sniff(JPEG) is filetypes.JPEG
    assert filetypes.sniff(png()) is filetypes.PNG
    assert filetypes.sniff(pdf()) is filetypes.PDF
    assert filetypes.sniff(docx()) is filetypes.DOCX
    assert filetypes.sniff(xlsx()) is filetypes.XLSX
    assert filetypes.sniff(ole("WordDocument")) is filetypes.DOC
    assert filetypes.sniff(ole("Workbook")) is filetypes.XLS
    assert filetypes.sniff(ole("PowerPoint Document")) is filetypes.PPT
    heic = b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40
    assert filetypes.sniff(heic) is filetypes.HEIC
    # Not allowed: other zips, other OLE2 files (an .msi), HTML, GIF, an executable.
    for data in (plain_zip(), ole("SummaryInformation"), b"<html>", b"GIF89a..", b"MZ\x90\x00"):
        assert filetypes.sniff(data) is None, data[:8]


@pytest.mark.parametrize(
    "data",
    [
        JPEG[: len(JPEG) // 2],  # cut off: no end marker
        png()[:20],  # no whole header chunk
        png()[:-12],  # no end chunk
        png()[:29] + b"\x00\x00\x00\x00" + png()[33:],  # header checksum wrong
        pdf()[:-8],  # no %%EOF
        docx()[:-30],  # the zip's central directory cut
        ole("WordDocument")[:600],  # shorter than a header and a sector
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 2000,  # byte order mark missing
    ],
)
def test_a_broken_file_of_a_known_kind_is_corrupt(data: bytes) -> None:
    with pytest.raises(filetypes.Corrupt):
        filetypes.sniff(data)


def test_a_zip_bomb_is_refused_before_it_inflates() -> None:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"\x00" * MB)
    assert len(out.getvalue()) < 4096
    assert filetypes.sniff(out.getvalue()) is filetypes.DOCX
    with pytest.raises(filetypes.Corrupt):
        filetypes.sniff(out.getvalue(), max_unzipped=MB)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("路面修复.jpg", "路面修复.jpg"),
        ("../../../etc/passwd", "passwd.jpg"),
        ("..\\..\\windows\\win.ini", "win.jpg"),
        ("C:\\Users\\科员\\Desktop\\现场照片.JPEG", "现场照片.jpg"),
        ("..", "附件.jpg"),
        ("", "附件.jpg"),
        (".hidden.jpg", "hidden.jpg"),
        ("photo\u202egpj.exe", "photogpj.jpg"),  # a right-to-left override dropped
        ('a"b;c\r\nd<e>.jpg', "a_b_cd_e_.jpg"),
        ("x" * 300 + ".jpg", "x" * 80 + ".jpg"),
        ("报告.exe", "报告.jpg"),  # the extension is the kind's, not the client's
    ],
)
def test_names_are_cleaned(raw: str, shown: str) -> None:
    assert clean_name(raw, filetypes.JPEG) == shown


def test_limits_and_refusals_have_stable_codes() -> None:
    limits = Limits(max_file_bytes=len(JPEG) + 10, max_files=2, max_reply_bytes=len(JPEG) * 2)
    ok = check([Upload("a.jpg", JPEG), Upload("b.jpg", JPEG)], limits)
    assert [c.name for c in ok] == ["a.jpg", "b.jpg"] and ok[0].sha256 == ok[1].sha256

    def code(uploads: list[Upload], limits: Limits = limits) -> str:
        with pytest.raises(AttachmentError) as err:
            check(uploads, limits)
        return err.value.code

    assert code([Upload("a.jpg", JPEG)] * 3) == "attachment_too_many"
    assert code([Upload("a.jpg", b"")]) == "attachment_empty"
    assert code([Upload("a.jpg", JPEG + b"\x00" * 11)]) == "attachment_too_large"
    small = Limits(max_file_bytes=len(JPEG), max_files=2, max_reply_bytes=len(JPEG) + 1)
    assert code([Upload("a.jpg", JPEG), Upload("b.jpg", JPEG)], small) == (
        "attachment_reply_too_large"
    )
    assert code([Upload("x.jpg", b"<script>alert(1)</script>")]) == "attachment_type"
    assert code([Upload("x.jpg", JPEG[:50])]) == "attachment_corrupt"
    with pytest.raises(AttachmentTooLarge):
        check([Upload("a.jpg", JPEG + b"\x00" * 11)], limits)


def test_settings_give_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_ATTACHMENTS__MAX_FILE_MB", "4")
    monkeypatch.setenv("HOTLINE_ATTACHMENTS__MAX_FILES", "3")
    monkeypatch.setenv("HOTLINE_ATTACHMENTS__MAX_REPLY_MB", "8")
    assert load_settings().attachments.limits() == Limits(4 * MB, 3, 8 * MB)
    monkeypatch.setenv("HOTLINE_ATTACHMENTS__MAX_REPLY_MB", "2")
    with pytest.raises(ConfigError, match="max_reply_mb"):
        load_settings()
