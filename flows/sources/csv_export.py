"""One CSV export (Google Sheets, French Excel, LibreOffice) read as rows of text, whatever its encoding and separator.

Every failure is an `InputError` in French that names the file, the line and what to do, and never quotes a
cell: messages carry only counts, line numbers, the file name and the detected encoding or separator.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from flows.errors import InputError

# Google Sheets stops at 10 million cells and Excel at ~1 million rows: anything bigger is not one tab.
MAX_BYTES = 200 * 1000 * 1000
SAMPLE_CHARS = 64 * 1024
SAMPLE_RECORDS = 200
# Order breaks ties: French exports use ';' or TAB, while commas are common *inside* French cells.
DELIMITERS = (";", "\t", ",", "|")
# Single-byte encodings a French spreadsheet tool may write, most likely first (ties go to the earlier one).
SINGLE_BYTE_ENCODINGS = ("cp1252", "latin_1", "mac_roman")
UTF16_WITHOUT_BOM = ("utf_16_le", "utf_16_be")
PYTHON_NAMES = {
    "cp1252": "cp1252",
    "latin_1": "latin-1",
    "mac_roman": "mac-roman",
    "utf_16_le": "utf-16-le",
    "utf_16_be": "utf-16-be",
}
ENCODING_LABELS = {
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16",
    "utf-16-be": "UTF-16",
    "cp1252": "Windows-1252",
    "latin-1": "ISO-8859-1 (Latin-1)",
    "mac-roman": "Mac Roman",
}
DELIMITER_LABELS = {",": "« , »", ";": "« ; »", "\t": "tabulation", "|": "« | »"}

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Control characters never typed in a sheet (TAB, LF and CR excepted): many of them mean binary content.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# UTF-8 bytes of é, è, à, ç…, œ and ’ « — » : never French text in a single-byte encoding ("Ã©", "â€™").
UTF8_FRENCH = re.compile(rb"\xc3[\x80-\xbf]|\xc2[\xa0-\xbf]|\xc5[\x92\x93]|\xe2\x80[\x90-\xbf]")

HOW_TO_EXPORT = (
    "exportez de nouveau l'onglet depuis le tableur (Google Sheets : Fichier > Télécharger > "
    "Valeurs séparées par des virgules ; Excel : Enregistrer sous > CSV UTF-8)"
)


@dataclass(frozen=True)
class CsvExport:
    """A CSV export decoded and split into records (one record = one sheet row)."""

    rows: list[list[str]]  # every record in file order, cells as text; a blank line is []
    first_lines: list[int]  # physical line (1-based) where each record starts
    encoding: str  # the Python codec used: 'utf-8', 'utf-8-sig', 'utf-16', 'cp1252', 'latin-1', 'mac-roman'…
    delimiter: str  # ',', ';', '\t' or '|'
    note: str | None  # French note for the run summary when the file is not plain UTF-8 with commas


def _read_bytes(path: Path, where: str) -> bytes:
    """The file's bytes, refusing a file too large to be one exported tab before reading it."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(
                f"{where} : ce fichier fait {size // 1_000_000} Mo, bien plus qu'un export d'onglet "
                f"(limite {MAX_BYTES // 1_000_000} Mo) : vérifiez que c'est le bon fichier, ou exportez "
                "l'onglet seul au format CSV."
            )
        with path.open("rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{where} : fichier introuvable ; vérifiez son nom et le dossier des exports.") from None
    except OSError as error:
        raise InputError(
            f"{where} : impossible de lire le fichier ({type(error).__name__}) ; vérifiez qu'il s'agit bien "
            "d'un fichier, lisible par le compte qui lance la synchronisation."
        ) from None


def _reject_workbook(data: bytes, where: str) -> None:
    """A workbook saved under a .csv name is recognised by its magic bytes and named for what it is."""
    if data.startswith(ZIP_MAGIC):
        if b"mimetypeapplication/vnd.oasis.opendocument" in data[:100]:
            raise InputError(
                f"{where} : ce fichier est un classeur LibreOffice (.ods) renommé en .csv, pas un texte CSV ; "
                "ouvrez-le dans LibreOffice et enregistrez l'onglet au format « Texte CSV »."
            )
        raise InputError(
            f"{where} : ce fichier est un classeur Excel (.xlsx) renommé en .csv, pas un texte CSV ; "
            "renommez-le en .xlsx, ou ouvrez-le et enregistrez l'onglet au format CSV UTF-8."
        )
    if data.startswith(OLE_MAGIC):
        raise InputError(
            f"{where} : ce fichier est un ancien classeur Excel (.xls) renommé en .csv, pas un texte CSV ; "
            "ouvrez-le dans Excel et enregistrez l'onglet au format CSV UTF-8 (ou en .xlsx)."
        )


def _not_text(where: str) -> InputError:
    """The error for bytes that are no text in any encoding a spreadsheet tool writes."""
    return InputError(
        f"{where} : ce fichier n'est pas un fichier texte CSV (il contient des octets binaires ou illisibles) ; "
        f"{HOW_TO_EXPORT}."
    )


def _empty(where: str) -> InputError:
    """The error for a file with no filled cell (0 bytes, blank lines, or only separators)."""
    return InputError(f"{where} : le fichier est vide (aucune cellule remplie) ; {HOW_TO_EXPORT}.")


def _line_at(data: bytes, offset: int) -> int:
    """Physical line (1-based) of a byte offset, whatever the line ends (LF, CRLF or CR)."""
    end = b"\n" if b"\n" in data else b"\r"
    return data.count(end, 0, offset) + 1


def _ranked_guesses(data: bytes, candidates: tuple[str, ...]) -> list[str]:
    """charset-normalizer's ranking of the candidate encodings, least messy first; [] when none fits."""
    from charset_normalizer import from_bytes

    try:
        # Restricted to the candidates, and blind to charset declarations inside the text: a French
        # export must not be read as an exotic encoding because some cell mentions one.
        matches = list(from_bytes(data, cp_isolation=list(candidates), preemptive_behaviour=False))
    except Exception:  # noqa: BLE001 (a guesser's failure is only "no guess": the caller says "not text")
        return []
    ranked = [(match.chaos, candidates.index(match.encoding)) for match in matches if match.encoding in candidates]
    return [candidates[index] for _, index in sorted(ranked)]


def _decode_bytes(data: bytes, where: str) -> tuple[str, str]:
    """The text and the Python codec: BOM first, then strict UTF-8, then charset-normalizer on a short list."""
    if data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = None
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as error:
            if encoding == "utf-16":
                raise _not_text(where) from None
            raise InputError(
                f"{where}, ligne {_line_at(data, error.start)} : le fichier s'annonce en UTF-8 mais contient "
                f"des caractères dans un autre encodage à partir de cette ligne ; {HOW_TO_EXPORT}."
            ) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as error:
        first_invalid = error.start
    utf8_accent = UTF8_FRENCH.search(data)
    if b"\x00" in data:  # no single-byte text holds NUL: UTF-16 without its BOM, or binary
        candidates = UTF16_WITHOUT_BOM
    elif utf8_accent:  # UTF-8 accents, so the invalid bytes come from another encoding…
        _check_is_text(data.decode("utf-8", errors="replace"), where)  # …unless it is binary after all
        raise _mixed_encodings(where, _line_at(data, utf8_accent.start()), _line_at(data, first_invalid))
    else:
        candidates = SINGLE_BYTE_ENCODINGS
    for encoding in _ranked_guesses(data, candidates):
        try:
            return data.decode(encoding), PYTHON_NAMES[encoding]
        except UnicodeDecodeError:
            continue  # the guess read a sample; the whole file decides
    raise _not_text(where)


def _check_is_text(text: str, where: str) -> None:
    """Refuse decoded text that still holds NUL or more than 1% of control characters (binary data)."""
    allowed = len(text) // 100
    found = sum(1 for _ in islice(CONTROL.finditer(text), allowed + 1))
    if "\x00" in text or found > allowed:
        raise _not_text(where)


def _mixed_encodings(where: str, utf8_line: int, other_line: int) -> InputError:
    """The error for a file holding UTF-8 accents and other bytes too (pasted or appended text)."""
    return InputError(
        f"{where} : le fichier mélange deux encodages, UTF-8 (dès la ligne {utf8_line}) et un autre, sans doute "
        f"Windows-1252 (dès la ligne {other_line}), si bien que des accents seraient mal lus ; {HOW_TO_EXPORT}."
    )


def _decode(data: bytes, where: str) -> tuple[str, str]:
    """The file's text and codec, once sure it is text and in one encoding."""
    text, encoding = _decode_bytes(data, where)
    _check_is_text(text, where)
    return text, encoding


def _sample(text: str) -> str:
    """The file's first 64 KiB, cut after a line end so that its last record is whole when it can be."""
    if len(text) <= SAMPLE_CHARS:
        return text
    head = text[:SAMPLE_CHARS]
    cut = max(head.rfind("\n"), head.rfind("\r"))
    return head[: cut + 1] if cut > 0 else head


def _separators_per_record(sample: str, delimiter: str) -> float:
    """How many separators the candidate consistently finds per non-blank record (quotes respected)."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    widths = []
    try:
        for row in reader:
            if row:  # blank lines say nothing; a line of bare separators (';;;') does
                widths.append(len(row))
                if len(widths) == SAMPLE_RECORDS:
                    break
    except csv.Error:
        pass  # a sample may end inside a quoted cell: what was read still counts
    if not widths:
        return 0.0
    width, count = max(Counter(widths).items(), key=lambda item: (item[1], item[0]))
    return (width - 1) * count / len(widths)


def _detect_delimiter(text: str) -> str:
    """The separator that splits the first records into the same number of cells, most cells winning.

    csv.Sniffer is not used: when ';' and ',' are both regular (a French file with a decimal comma in every
    row, or "(horaires, activités)" in the header) it prefers ',', which is the wrong answer here.
    """
    sample = _sample(text)
    scores = {delimiter: _separators_per_record(sample, delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: (scores[delimiter], -DELIMITERS.index(delimiter)))
    return best if scores[best] > 0 else ","


def _line_label(record: int, line: int) -> str:
    """'ligne N', adding the sheet row when quoted line breaks make it differ from the file's line."""
    if record == line:
        return f"ligne {line}"
    return f"ligne {line} du fichier (ligne {record} du tableur)"


def _csv_error(where: str, record: int, line: int, reason: str) -> InputError:
    """A parsing failure of the record starting at `line`, explained from csv's reason (never quoted)."""
    label = _line_label(record, line)
    if "unexpected end of data" in reason or "field limit" in reason:
        return InputError(
            f"{where}, {label} : un guillemet (\") ouvre une cellule de cette ligne et n'est jamais refermé, "
            "si bien que tout le reste du fichier tomberait dans cette cellule ; dans le tableur, retirez ce "
            "guillemet ou entourez la cellule de guillemets, puis exportez de nouveau."
        )
    if "expected after" in reason:
        return InputError(
            f'{where}, {label} : un guillemet (") est mal placé dans une cellule qui commence à cette ligne '
            "(du texte suit le guillemet qui ferme la cellule) ; dans un CSV, un guillemet à l'intérieur "
            "d'une cellule s'écrit doublé (\"\") : corrigez la cellule puis exportez de nouveau."
        )
    return InputError(
        f"{where}, {label} : cette ligne ne peut pas être lue comme du CSV ; vérifiez ses guillemets "
        "et séparateurs, puis exportez de nouveau."
    )


def _records(text: str, delimiter: str, where: str) -> tuple[list[list[str]], list[int]]:
    """Every record with the physical line it starts on; strict mode so a broken quote is an error."""
    # newline="" hands LF, CRLF and CR line ends to csv untouched, and csv counts each as one line.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    first_lines: list[int] = []
    start = 1
    try:
        for row in reader:
            rows.append(row)
            first_lines.append(start)
            start = reader.line_num + 1
    except csv.Error as error:
        if "field limit" in str(error):
            raise _oversized_or_unclosed(text, delimiter, where, len(rows) + 1, start) from None
        raise _csv_error(where, len(rows) + 1, start, str(error)) from None
    return rows, first_lines


def _oversized_or_unclosed(text: str, delimiter: str, where: str, record: int, line: int) -> InputError:
    """Past csv's field limit: a cell really that long (no spreadsheet writes one: Google Sheets stops at 50,000
    characters, Excel at 32,767), or an unclosed quote swallowing the rest of the file. A second read without
    the limit tells which; the limit is process-wide, so it is put back at once."""
    limit = csv.field_size_limit()
    csv.field_size_limit(len(text) + 1)
    try:
        rows, first_lines = _records(text, delimiter, where)
    except InputError as error:
        return error  # the unclosed quote (or another fault found on the way)
    finally:
        csv.field_size_limit(limit)
    for index, row in enumerate(rows):
        for column, cell in enumerate(row, start=1):
            if len(cell) > limit:
                return InputError(
                    f"{where}, {_line_label(index + 1, first_lines[index])}, colonne {column} "
                    f"({_column_letters(column)}) : cellule de plus de {_thousands(limit)} caractères "
                    f"({_thousands(len(cell))}) ; aucun tableur n'écrit une cellule aussi longue (Google Sheets "
                    "s'arrête à 50 000, Excel à 32 767) : le fichier a sans doute été produit par un autre programme. Raccourcissez cette "
                    "cellule dans le tableur, puis exportez de nouveau."
                )
    return _csv_error(where, record, line, "field limit")


def _thousands(number: int) -> str:
    """A count written the French way: 131 072."""
    return f"{number:,}".replace(",", " ")


def _column_letters(number: int) -> str:
    """A spreadsheet's column letters: 1 → A, 27 → AA."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _usual_width(rows: list[list[str]]) -> int:
    """The most common number of cells among records holding something (the larger on a tie)."""
    widths = Counter(map(len, filter(any, rows)))
    return max(widths.items(), key=lambda item: (item[1], item[0]))[0]


def _trim_to_width(rows: list[list[str]], first_lines: list[int], delimiter: str, where: str) -> None:
    """Drop empty cells past the usual width (Excel writes 'a;b;;;'); a filled one means a stray separator."""
    width = _usual_width(rows)
    ragged = []
    for index, row in enumerate(rows):
        if len(row) > width:
            if any(cell.strip() for cell in row[width:]):
                ragged.append(index)
            else:
                rows[index] = row[:width]
    if not ragged:
        return
    index = ragged[0]
    row = rows[index]
    cells = max(position for position, cell in enumerate(row) if cell.strip()) + 1
    others = f" ({len(ragged) - 1} autre(s) ligne(s) dans ce cas)" if len(ragged) > 1 else ""
    raise InputError(
        f"{where}, {_line_label(index + 1, first_lines[index])} : cette ligne a {cells} cellules alors que "
        f"les lignes du fichier en ont {width}{others}. Une cellule contient sans doute un séparateur "
        f"{DELIMITER_LABELS[delimiter]} sans guillemets autour : corrigez-la dans le tableur, puis exportez de "
        "nouveau (le tableur ajoute alors les guillemets)."
    )


_LONE_CR = re.compile(r"\r(?!\n)")


def _note(encoding: str, delimiter: str, text: str) -> str | None:
    """What the run summary says when the file is not plain UTF-8 with commas and LF/CRLF line ends."""
    parts = []
    if encoding not in ("utf-8", "utf-8-sig"):
        parts.append(f"encodage {ENCODING_LABELS.get(encoding, encoding)}")
    if delimiter != ",":
        parts.append(f"séparateur {DELIMITER_LABELS[delimiter]}")
    # Records end with a lone CR (a line break typed inside a quoted cell may still be a LF).
    if len(_LONE_CR.findall(text)) > text.count("\n"):
        parts.append("fins de ligne Mac (CR)")
    return ", ".join(parts) or None


def read_csv_export(path: Path, where: str) -> CsvExport:
    """Read one exported tab: its records as text with the line each starts on, or a French InputError."""
    data = _read_bytes(path, where)
    if not data:
        raise _empty(where)
    _reject_workbook(data, where)
    text, encoding = _decode(data, where)
    delimiter = _detect_delimiter(text)
    rows, first_lines = _records(text, delimiter, where)
    if not any(any(cell.strip() for cell in row) for row in rows):
        raise _empty(where)
    _trim_to_width(rows, first_lines, delimiter, where)
    return CsvExport(rows, first_lines, encoding, delimiter, _note(encoding, delimiter, text))
