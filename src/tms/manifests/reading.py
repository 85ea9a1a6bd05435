"""Reading an uploaded manifest: CSV or XLSX, streamed row by row, columns found by header.

Everything here is about the file, nothing about applications: it yields the raw values
of the two columns that matter, and refuses (``Refused``, with a message for the officer)
a file it cannot read safely. A refusal can come late, e.g. a Latin-1 byte on row 90,000;
the caller must then throw away what it had read.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import IO, Any

from django.utils.translation import gettext as _

MAX_BYTES = 50 * 1024 * 1024
# The header may sit below a title or two; it must be among the first rows with content.
HEADER_SEARCH_ROWS = 10
CELL_LIMIT = 64  # characters kept of a cell (references are 13 digits, agency refs ≤ 64)
CSV_FIELD_LIMIT = 64 * 1024  # a longer "cell" is not a manifest


def _key(header: str) -> str:
    """Case, spaces and punctuation do not matter: "Tracking Ref." → "trackingref"."""
    return re.sub(r"[^0-9a-z]", "", header.casefold())


# Header names, in English and Kiswahili, compared by ``_key``.
REFERENCE_HEADERS = frozenset(
    _key(name)
    for name in (
        "reference", "ref", "ref no", "reference number", "tracking reference", "tracking ref",
        "tracking number", "tracking no", "tms reference", "tms ref", "tms number", "tms",
        "track my service reference", "kumbukumbu", "nambari ya kumbukumbu",
        "namba ya kumbukumbu", "nambari ya ufuatiliaji", "namba ya ufuatiliaji",
        "kumbukumbu ya tms",
    )
)  # fmt: skip
AGENCY_REF_HEADERS = frozenset(
    _key(name)
    for name in (
        "agency reference", "agency ref", "agency ref no", "agency reference number",
        "agency number", "agency no", "document number", "document no", "doc number",
        "doc no", "kumbukumbu ya wakala", "nambari ya wakala", "namba ya wakala",
        "nambari ya hati", "namba ya hati",
    )
)  # fmt: skip


class Refused(Exception):
    """The file cannot be used; ``message`` tells the officer why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Value:
    """A cell as found: its text, and whether the spreadsheet held it as a number."""

    text: str
    kind: str = "text"  # "text", "number" (int or float cell) or "other" (date, boolean)

    @property
    def empty(self) -> bool:
        return not self.text.strip()


EMPTY = Value("")


@dataclass(frozen=True)
class Columns:
    reference: int | None
    agency_ref: int | None
    reference_header: str
    agency_ref_header: str
    header_row: int
    sheet: str = ""

    def describe(self) -> str:
        found = []
        if self.reference is not None:
            found.append(
                _("our reference: column %(column)s (“%(header)s”)")
                % {"column": column_letter(self.reference), "header": self.reference_header}
            )
        if self.agency_ref is not None:
            found.append(
                _("agency reference: column %(column)s (“%(header)s”)")
                % {"column": column_letter(self.agency_ref), "header": self.agency_ref_header}
            )
        text = _("Header on row %(row)s; ") % {"row": self.header_row} + "; ".join(found)
        if self.sheet:
            text += _(" (sheet “%(sheet)s”)") % {"sheet": self.sheet}
        return text


@dataclass(frozen=True)
class RawRow:
    number: int
    reference: Value
    agency_ref: Value


@dataclass
class Manifest:
    """An open file: its format, its columns, and its data rows (read once, lazily)."""

    file_format: str
    columns: Columns
    rows: Iterator[RawRow]


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _resave() -> str:
    return _("Save it as “CSV UTF-8 (comma delimited)” or as an Excel workbook (.xlsx).")


def open_manifest(file: IO[bytes], *, size: int) -> Manifest:
    """Check ``file`` (``size`` bytes, known before reading) and find its columns."""
    if size > MAX_BYTES:
        raise Refused(
            _("The file is %(size)s MB; the largest accepted is %(limit)s MB. Split it in parts.")
            % {"size": f"{size / 1024 / 1024:.1f}", "limit": MAX_BYTES // 1024 // 1024}
        )
    if size == 0:
        raise Refused(_("The file is empty."))
    file.seek(0)
    head = file.read(4096)
    file.seek(0)
    if head.startswith(b"PK\x03\x04"):
        file_format, cells = "xlsx", _xlsx_rows(file)
    elif head.startswith(b"%PDF"):
        raise Refused(_("This is a PDF document, not a CSV or XLSX file. ") + _resave())
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        raise Refused(_("This is an old Excel (.xls) or Word file. ") + _resave())
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(head):
        raise Refused(_("The file is in UTF-16 (“Unicode text”), not UTF-8. ") + _resave())
    elif b"\x00" in head:
        raise Refused(_("This is not a CSV or XLSX file. ") + _resave())
    else:
        file_format, cells = "csv", _csv_rows(file)
    columns, rest = _find_header(cells)
    return Manifest(file_format, columns, _data_rows(columns, rest))


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a byte order mark: ASCII text with every other byte NUL."""
    sample = head[:512]
    return len(sample) >= 4 and (
        sample[1::2].count(0) > len(sample) // 4 or sample[0::2].count(0) > len(sample) // 4
    )


# --- CSV ---------------------------------------------------------------------------------


def _csv_rows(file: IO[bytes]) -> Iterator[tuple[int, list[Value]]]:
    text = io.TextIOWrapper(file, encoding="utf-8-sig", errors="strict", newline="")
    try:
        first = text.readline()
        delimiter = _sniff(first)
        previous = csv.field_size_limit(CSV_FIELD_LIMIT)
        try:
            reader = csv.reader(_chain(first, text), delimiter=delimiter)
            for number, row in enumerate(reader, start=1):
                yield number, [Value(cell) for cell in row]
        finally:
            csv.field_size_limit(previous)
    except UnicodeDecodeError:
        raise Refused(
            _(
                "The file is not in UTF-8: it has letters in another encoding (for example "
                "Latin-1 or Windows-1252). "
            )
            + _resave()
        ) from None
    except csv.Error:
        raise Refused(_("This file cannot be read as CSV. ") + _resave()) from None
    finally:
        text.detach()  # leave the upload open for its owner


def _chain(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


def _sniff(header: str) -> str:
    """Comma or semicolon (Excel's choice where the decimal mark is a comma), or tab:
    whichever splits the header line into the most columns."""
    counts = {delimiter: header.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


# --- XLSX --------------------------------------------------------------------------------


def _xlsx_rows(file: IO[bytes]) -> Iterator[tuple[int, list[Value]]]:
    from openpyxl import load_workbook  # type: ignore[import-untyped, unused-ignore]

    try:
        # Formulas stay text ("=HYPERLINK(...)"): nothing is evaluated or fetched.
        workbook = load_workbook(file, read_only=True, data_only=False, keep_links=False)
        sheet = workbook.active or workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers store wrong dimensions; read every row
        title = str(sheet.title)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, IndexError) as error:
        raise Refused(
            _("This file cannot be read as an Excel workbook (.xlsx). ") + _resave()
        ) from error
    except Exception as error:  # openpyxl raises its own kinds for damaged files
        raise Refused(
            _("This file cannot be read as an Excel workbook (.xlsx). ") + _resave()
        ) from error
    try:
        yield 0, [Value(title, "sheet")]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_xlsx_value(value) for value in row]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise Refused(
            _("This Excel workbook is damaged and cannot be read to the end. ") + _resave()
        ) from error
    finally:
        workbook.close()


def _xlsx_value(value: Any) -> Value:
    if value is None:
        return EMPTY
    if isinstance(value, bool):
        return Value(str(value), "other")
    if isinstance(value, int | float):
        return Value(str(value), "number")
    if isinstance(value, datetime | date | time):
        return Value(value.isoformat(), "other")
    return Value(str(value))


# --- Both --------------------------------------------------------------------------------


def _find_header(
    cells: Iterator[tuple[int, list[Value]]],
) -> tuple[Columns, Iterator[tuple[int, list[Value]]]]:
    sheet = ""
    seen: list[str] = []
    searched = 0
    for number, row in cells:
        if number == 0:  # the XLSX sheet's name
            sheet = row[0].text
            continue
        if all(value.empty for value in row):
            continue
        columns = _columns(row, number, sheet)
        if columns is not None:
            return columns, cells
        if not seen:
            seen = [value.text.strip() for value in row if not value.empty]
        searched += 1
        if searched >= HEADER_SEARCH_ROWS:
            break
    if searched == 0:
        raise Refused(_("The file is empty."))
    shown = ", ".join(f"“{text[:40]}”" for text in seen[:10])
    raise Refused(
        _(
            "No recognised column. The first row must be a header naming the column of our "
            "reference (e.g. “Reference” or “Tracking reference”) or of the agency's "
            "reference (e.g. “Agency reference” or “Document number”). The first row "
            "found: %(found)s."
        )
        % {"found": shown}
    )


def _columns(row: Sequence[Value], number: int, sheet: str) -> Columns | None:
    reference = agency_ref = None
    for index, value in enumerate(row):
        key = _key(value.text) if value.kind == "text" else ""
        if not key:
            continue
        if key in REFERENCE_HEADERS and reference is None:
            reference = index
        elif key in AGENCY_REF_HEADERS and agency_ref is None:
            agency_ref = index
    if reference is None and agency_ref is None:
        return None
    return Columns(
        reference=reference,
        agency_ref=agency_ref,
        reference_header=row[reference].text.strip() if reference is not None else "",
        agency_ref_header=row[agency_ref].text.strip() if agency_ref is not None else "",
        header_row=number,
        sheet=sheet,
    )


def _data_rows(columns: Columns, cells: Iterator[tuple[int, list[Value]]]) -> Iterator[RawRow]:
    """The rows after the header; rows with no content at all are left out."""
    for number, row in cells:
        if all(value.empty for value in row):
            continue
        yield RawRow(
            number=number,
            reference=_at(row, columns.reference),
            agency_ref=_at(row, columns.agency_ref),
        )


def _at(row: Sequence[Value], index: int | None) -> Value:
    if index is None or index >= len(row):
        return EMPTY
    return row[index]
