"""Reading files: formats, encodings, headers. No database: only the file is judged."""

from __future__ import annotations

import io
import tempfile

import pytest

from tms.manifests import reading
from tms.manifests.reading import Refused
from tms.manifests.tests.conftest import csv_bytes, xlsx_bytes


def read(content: bytes) -> reading.Manifest:
    return reading.open_manifest(io.BytesIO(content), size=len(content))


def refusal(content: bytes) -> str:
    with pytest.raises(Refused) as refused:
        list(read(content).rows)
    return refused.value.message


def test_semicolon_csv_with_a_bom_finds_the_column_by_header():
    opened = read(
        csv_bytes(
            [["Jina", " TRACKING  ref "], ["Wanjiku", "4821 7730 9155 2"]], delimiter=";", bom=True
        )
    )
    assert opened.file_format == "csv"
    assert opened.columns.reference == 1
    assert "column B" in opened.columns.describe() and "TRACKING  ref" in opened.columns.describe()
    rows = list(opened.rows)
    assert [(r.number, r.reference.text) for r in rows] == [(2, "4821 7730 9155 2")]


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("Agency Reference", "agency_ref"),
        ("agency_ref", "agency_ref"),
        ("Document No.", "agency_ref"),
        ("Nambari ya Kumbukumbu", "reference"),
        ("TMS Reference", "reference"),
        ("kumbukumbu ya wakala", "agency_ref"),
    ],
)
def test_header_synonyms(header, column):
    columns = read(csv_bytes([[header], ["x"]])).columns
    assert getattr(columns, column) == 0


def test_xlsx_with_the_header_below_a_title_and_not_in_column_a():
    content = xlsx_bytes(
        [
            ["Manifest 12 May"],
            [],
            ["Name", "Agency ref", "Reference"],
            ["A", "NRB-1", "4821773091552"],
        ],
        start_column=3,
        start_row=2,
    )
    opened = read(content)
    assert opened.file_format == "xlsx"
    assert (opened.columns.agency_ref, opened.columns.reference) == (3, 4)
    assert opened.columns.header_row == 4
    assert "sheet “Manifest”" in opened.columns.describe()
    [row] = list(opened.rows)
    assert (row.number, row.reference.text, row.agency_ref.text) == (5, "4821773091552", "NRB-1")


def test_xlsx_numbers_and_formulas_come_through_as_they_are():
    content = xlsx_bytes(
        [["Reference"], [4821773091552], [4.82177e12], ['=HYPERLINK("http://x","click")']]
    )
    rows = list(read(content).rows)
    assert [(r.reference.kind, r.reference.text) for r in rows] == [
        ("number", "4821773091552"),
        ("number", "4821770000000"),  # Excel stores it as a number
        ("text", '=HYPERLINK("http://x","click")'),
    ]


def test_empty_file_is_refused():
    assert refusal(b"") == "The file is empty."
    assert refusal(b"\r\n\r\n ,\r\n") == "The file is empty."


def test_utf16_is_refused_with_advice():
    content = "Reference\r\n4821773091552\r\n".encode("utf-16")
    message = refusal(content)
    assert "UTF-16" in message and "CSV UTF-8" in message
    # Without its byte order mark too.
    assert "UTF-16" in refusal("Reference\r\n4821773091552\r\n".encode("utf-16-le"))


def test_latin1_is_refused_even_late_in_the_file():
    rows = [["Reference", "Name"]] + [["4821773091552", "Wanjiku"]] * 5000 + [["1", "Müller"]]
    content = "\r\n".join(",".join(r) for r in rows).encode("latin-1")
    message = refusal(content)
    assert "not in UTF-8" in message and "CSV UTF-8" in message


def test_a_pdf_renamed_to_csv_is_refused():
    assert "PDF" in refusal(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")


def test_an_old_excel_file_is_refused():
    assert ".xls" in refusal(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)


def test_a_zip_that_is_not_a_workbook_is_refused():
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    assert "Excel workbook" in refusal(buffer.getvalue())


def test_binary_rubbish_is_refused():
    assert "not a CSV or XLSX" in refusal(b"GIF89a\x01\x00\x01\x00\x00\xff\x00,")


def test_no_recognised_column_says_what_it_found():
    message = refusal(csv_bytes([["Name", "Phone"], ["Wanjiku", "0712345678"]]))
    assert "No recognised column" in message and "“Name”, “Phone”" in message


def test_a_file_without_a_header_row_is_refused():
    message = refusal(csv_bytes([["4821773091552"], ["4821773091553"]]))
    assert "No recognised column" in message and "header" in message


def test_header_only_yields_no_rows():
    assert list(read(csv_bytes([["Reference"]])).rows) == []
    assert list(read(csv_bytes([["Reference"], [""], [""]])).rows) == []


def test_over_50_mb_is_refused_before_reading():
    with tempfile.TemporaryFile() as big:
        big.write(b"Reference\r\n")
        big.truncate(reading.MAX_BYTES + 1)  # sparse: cheap to make
        size = big.seek(0, io.SEEK_END)
        big.seek(0)

        class Unreadable(io.BufferedReader):
            def read(self, *args):
                raise AssertionError("read before the size was checked")

        with pytest.raises(Refused) as refused:
            reading.open_manifest(Unreadable(big), size=size)
    assert "largest accepted is 50 MB" in refused.value.message


def test_column_letters():
    assert [reading.column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]
