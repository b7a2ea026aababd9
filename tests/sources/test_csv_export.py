"""CSV exports read from real bytes: encodings, separators, line ends, and French errors that never quote a cell."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
from openpyxl import Workbook

from flows.errors import InputError
from flows.sources.csv_export import MAX_BYTES, CsvExport, read_csv_export

WHERE = "Fichier « Suivi - Promeneurs.csv »"
# Personal data planted in the files: no error message may ever contain any of it.
PLANTED = ("lea.bertrand@example.org", "Bertrand", "Léa", "Gannat", "paul.martin@example.org", "Martin", "Œillets")
HEADER = ["Nom", "Prénom", "E-mail", "Structure", "Infos sur la structure (horaires, activités)", "Taux"]
PEOPLE = [
    ["Bertrand", "Léa", "lea.bertrand@example.org", "Maison « Les Œillets »", "l’après-midi, à côté du garçon", "0,5"],
    ["Martin", "Paul", "paul.martin@example.org", "Centre social de Gannat", "fermé en août", "1,5"],
]
# The same sheet without œ and ’, which Latin-1 cannot hold.
PEOPLE_LATIN1 = [[cell.replace("Œ", "Oe").replace("’", "'") for cell in row] for row in PEOPLE]


def lines(rows: list[list[str]], delimiter: str, end: str = "\r\n") -> str:
    """Rows joined as an export tool writes them (no cell here needs quoting)."""
    return "".join(delimiter.join(row) + end for row in rows)


def read(tmp_path: Path, data: bytes, name: str = "Suivi - Promeneurs.csv") -> CsvExport:
    """Write real bytes to a file and read it back."""
    path = tmp_path / name
    path.write_bytes(data)
    return read_csv_export(path, WHERE)


def refused(tmp_path: Path, data: bytes) -> str:
    """The message of the InputError the bytes raise, checked to name the file and quote nobody."""
    with pytest.raises(InputError) as caught:
        read(tmp_path, data)
    message = str(caught.value)
    assert message.startswith(WHERE)
    assert not [value for value in PLANTED if value in message]
    return message


# --- Encodings --------------------------------------------------------------------------------------


def test_google_utf8_comma_crlf_export_is_read_with_no_note(tmp_path):
    text = lines([HEADER[:4], PEOPLE[0][:4], PEOPLE[1][:4]], ",")
    export = read(tmp_path, text.encode("utf-8"))
    assert export.rows == [HEADER[:4], PEOPLE[0][:4], PEOPLE[1][:4]]
    assert (export.encoding, export.delimiter, export.note) == ("utf-8", ",", None)
    assert export.first_lines == [1, 2, 3]


def test_utf8_bom_is_removed_from_the_first_header_and_needs_no_note(tmp_path):
    export = read(tmp_path, lines([HEADER[:4], PEOPLE[0][:4]], ",", "\n").encode("utf-8-sig"))
    assert export.rows[0][0] == "Nom"
    assert (export.encoding, export.note) == ("utf-8-sig", None)


def test_french_excel_cp1252_semicolon_file_is_read_with_its_accents(tmp_path):
    export = read(tmp_path, lines([HEADER, *PEOPLE], ";").encode("cp1252"))
    assert export.rows == [HEADER, *PEOPLE]
    assert export.encoding == "cp1252"
    assert export.note == "encodage Windows-1252, séparateur « ; »"


def test_latin1_file_is_read_with_its_accents(tmp_path):
    export = read(tmp_path, lines([HEADER, *PEOPLE_LATIN1], ";").encode("latin-1"))
    assert export.rows == [HEADER, *PEOPLE_LATIN1]
    # Latin-1 text without C1 bytes is byte for byte Windows-1252: either name reads it right.
    assert export.encoding in ("cp1252", "latin-1")


def test_excel_unicode_text_utf16_le_with_tabs_is_read_with_its_accents(tmp_path):
    data = b"\xff\xfe" + lines([HEADER, *PEOPLE], "\t").encode("utf-16-le")
    export = read(tmp_path, data)
    assert export.rows == [HEADER, *PEOPLE]
    assert (export.encoding, export.delimiter) == ("utf-16", "\t")
    assert export.note == "encodage UTF-16, séparateur tabulation"


def test_utf16_be_with_bom_is_read_with_its_accents(tmp_path):
    export = read(tmp_path, b"\xfe\xff" + lines([HEADER, *PEOPLE], "\t").encode("utf-16-be"))
    assert export.rows == [HEADER, *PEOPLE]
    assert export.encoding == "utf-16"


def test_utf16_without_bom_is_recognised_rather_than_called_binary(tmp_path):
    export = read(tmp_path, lines([HEADER, *PEOPLE], "\t").encode("utf-16-le"))
    assert export.rows == [HEADER, *PEOPLE]
    assert export.encoding == "utf-16-le"


def test_mac_roman_file_with_cr_line_ends_is_read_with_its_accents(tmp_path):
    export = read(tmp_path, lines([HEADER, *PEOPLE], ";", "\r").encode("mac_roman"))
    assert export.rows == [HEADER, *PEOPLE]
    assert export.encoding == "mac-roman"
    assert export.note == "encodage Mac Roman, séparateur « ; », fins de ligne Mac (CR)"


def test_single_accented_word_in_cp1252_is_not_read_as_another_encoding(tmp_path):
    # Too short for any statistics: the tie goes to Windows-1252, the French Excel default.
    export = read(tmp_path, "Prénom\r\nLéa\r\n".encode("cp1252"))
    assert export.rows == [["Prénom"], ["Léa"]]
    assert export.encoding == "cp1252"


def test_file_mixing_utf8_and_cp1252_is_refused_naming_both_lines(tmp_path):
    data = lines([HEADER, PEOPLE[0]], ";").encode("utf-8") + lines([PEOPLE[1]], ";").encode("cp1252")
    data += "Durand;Zoé\r\n".encode("cp1252")
    message = refused(tmp_path, data)
    assert "mélange deux encodages" in message
    assert "UTF-8 (dès la ligne 1)" in message and "Windows-1252 (dès la ligne 3)" in message


def test_utf8_bom_file_with_cp1252_bytes_names_the_first_line_in_another_encoding(tmp_path):
    data = lines([HEADER, PEOPLE[0]], ";").encode("utf-8-sig") + lines([PEOPLE[1], ["Zoé"]], ";").encode("cp1252")
    message = refused(tmp_path, data)
    assert "ligne 3" in message and "s'annonce en UTF-8" in message


# --- Separators -------------------------------------------------------------------------------------


def test_semicolon_file_whose_cells_hold_commas_is_read_as_semicolon(tmp_path):
    # Every line has as many commas as the others ("horaires, activités", "0,5"): csv.Sniffer says ','.
    text = "Nom;Prénom;Taux;Infos sur la structure (horaires, activités)\r\nBertrand;Léa;0,5;lundi\r\nMartin;Paul;1,5;mardi\r\n"
    export = read(tmp_path, text.encode("utf-8"))
    assert export.delimiter == ";"
    assert export.rows[1] == ["Bertrand", "Léa", "0,5", "lundi"]


def test_two_column_file_as_regular_in_commas_as_in_semicolons_is_read_as_semicolon(tmp_path):
    export = read(tmp_path, "Nom;Taux (en %, arrondi)\r\nBertrand;0,5\r\nMartin;1,5\r\n".encode("utf-8"))
    assert export.delimiter == ";"
    assert export.rows[2] == ["Martin", "1,5"]


def test_comma_file_with_semicolons_inside_cells_stays_a_comma_file(tmp_path):
    text = "Nom,Prénom,Horaires,Commune\r\nBertrand,Léa,9h-12h; 14h-17h,Gannat\r\nMartin,Paul,10h; 15h,Vichy\r\n"
    export = read(tmp_path, text.encode("utf-8"))
    assert export.delimiter == ","
    assert export.rows[1] == ["Bertrand", "Léa", "9h-12h; 14h-17h", "Gannat"]


@pytest.mark.parametrize(("delimiter", "label"), [("\t", "séparateur tabulation"), ("|", "séparateur « | »")])
def test_tab_and_pipe_separators_are_detected_and_noted(tmp_path, delimiter, label):
    export = read(tmp_path, lines([HEADER, *PEOPLE], delimiter).encode("utf-8"))
    assert export.delimiter == delimiter
    assert export.rows == [HEADER, *PEOPLE]
    assert export.note == label


def test_quoted_cells_holding_the_separator_do_not_change_the_detection(tmp_path):
    text = 'Nom;Commentaire;Commune\r\nBertrand;"vu lundi; rappeler";Gannat\r\nMartin;"a; b; c; d";Vichy\r\n'
    export = read(tmp_path, text.encode("cp1252"))
    assert export.delimiter == ";"
    assert export.rows[2] == ["Martin", "a; b; c; d", "Vichy"]


def test_single_column_file_is_read_as_one_cell_per_row(tmp_path):
    export = read(tmp_path, b"E-mail\r\nlea.bertrand@example.org\r\n")
    assert export.rows == [["E-mail"], ["lea.bertrand@example.org"]]


# --- Line ends, blank lines, records ----------------------------------------------------------------


@pytest.mark.parametrize("end", ["\r\n", "\n", "\r"])
def test_every_line_end_gives_the_same_records(tmp_path, end):
    export = read(tmp_path, lines([HEADER, *PEOPLE], ";", end).encode("utf-8"))
    assert export.rows == [HEADER, *PEOPLE]
    assert ("fins de ligne Mac (CR)" in (export.note or "")) == (end == "\r")


def test_blank_lines_are_kept_as_empty_records_so_row_numbers_match_the_sheet(tmp_path):
    export = read(tmp_path, b"Nom,Commune\r\n\r\nBertrand,Gannat\r\n\r\n\r\nMartin,Vichy\r\n")
    assert export.rows == [["Nom", "Commune"], [], ["Bertrand", "Gannat"], [], [], ["Martin", "Vichy"]]
    assert export.first_lines == [1, 2, 3, 4, 5, 6]


def test_quoted_cell_with_line_breaks_stays_one_record_and_first_lines_say_where_records_start(tmp_path):
    text = 'Nom,Commentaire\r\nBertrand,"ligne un\nligne deux\r\nligne trois"\r\n\r\nMartin,ok\r\n'
    export = read(tmp_path, text.encode("utf-8"))
    assert export.rows == [
        ["Nom", "Commentaire"],
        ["Bertrand", "ligne un\nligne deux\r\nligne trois"],
        [],
        ["Martin", "ok"],
    ]
    assert export.first_lines == [1, 2, 5, 6]


def test_excel_trailing_empty_cells_beyond_the_width_are_trimmed(tmp_path):
    text = "Nom;Prénom;Commune\r\nBertrand;Léa;Gannat;;;\r\nMartin;Paul;Vichy\r\nDurand;Zoé;Riom;  ;\r\n"
    export = read(tmp_path, text.encode("cp1252"))
    assert export.rows == [
        ["Nom", "Prénom", "Commune"],
        ["Bertrand", "Léa", "Gannat"],
        ["Martin", "Paul", "Vichy"],
        ["Durand", "Zoé", "Riom"],
    ]


def test_rows_shorter_than_the_width_are_returned_as_they_are(tmp_path):
    export = read(tmp_path, b"Nom;Prenom;Commune\r\nBertrand;Lea;Gannat\r\nMartin\r\nDurand;Zoe;Riom\r\n")
    assert export.rows[2] == ["Martin"]


# --- Errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)) * 4,
        b"Nom,Commune\r\nBertrand,Gannat\x00\x00\x01\x02\x03\r\n" + bytes(range(256)) * 2,
        random.Random(7).randbytes(2000),
    ],
    ids=["png", "nul-bytes", "random"],
)
def test_binary_file_named_csv_is_refused_as_not_text(tmp_path, data):
    assert "n'est pas un fichier texte CSV" in refused(tmp_path, data)


def test_xlsx_workbook_renamed_csv_is_named_and_told_to_be_renamed_xlsx(tmp_path):
    workbook = Workbook()
    workbook.active.append(HEADER)
    workbook.active.append(PEOPLE[0])
    workbook.save(tmp_path / "classeur.xlsx")
    message = refused(tmp_path, (tmp_path / "classeur.xlsx").read_bytes())
    assert "classeur Excel" in message and ".xlsx" in message


def test_old_xls_workbook_renamed_csv_is_named(tmp_path):
    message = refused(tmp_path, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512) + b"Bertrand")
    assert "ancien classeur Excel (.xls)" in message


def test_unclosed_quote_names_the_line_where_its_record_starts(tmp_path):
    text = 'Nom;Commentaire\r\nBertrand;"sur\r\ndeux lignes"\r\nMartin;"jamais fermé\r\nDurand;Riom\r\nPetit;Vichy\r\n'
    message = refused(tmp_path, text.encode("cp1252"))
    assert "ligne 4 du fichier (ligne 3 du tableur)" in message
    assert "jamais refermé" in message


def test_unclosed_quote_in_a_large_file_is_reported_as_such(tmp_path):
    # The open cell swallows more than csv's 128 KiB field limit before the end of the file.
    text = 'Nom,Commentaire\r\nBertrand,"oublié\r\n' + "Martin,Gannat\r\n" * 20_000
    message = refused(tmp_path, text.encode("utf-8"))
    assert "ligne 2" in message and "jamais refermé" in message


def test_text_after_a_closing_quote_names_the_line(tmp_path):
    message = refused(tmp_path, 'Nom;Structure\r\nBertrand;"Les Œillets" Gannat\r\n'.encode("cp1252"))
    assert "ligne 2" in message and "guillemet" in message


def test_ragged_row_names_the_line_both_counts_and_the_likely_stray_separator(tmp_path):
    rows = [HEADER[:3]] + [PEOPLE[0][:3]] * 5
    text = lines(rows, ";") + "Martin;Paul;Gannat;Vichy\r\n" + lines([PEOPLE[1][:3]], ";")
    message = refused(tmp_path, text.encode("cp1252"))
    assert "ligne 7" in message
    assert "4 cellules" in message and "en ont 3" in message
    assert "« ; » sans guillemets" in message


@pytest.mark.parametrize(
    "data", [b"", b"\r\n\r\n\n", b"\xef\xbb\xbf", b"\xff\xfe", b";;;\r\n;;;\r\n", b"  \r\n"], ids=repr
)
def test_empty_file_is_refused_as_empty(tmp_path, data):
    assert "le fichier est vide" in refused(tmp_path, data)


def test_file_larger_than_a_spreadsheet_export_is_refused_before_being_read(tmp_path):
    path = tmp_path / "Suivi - Promeneurs.csv"
    with path.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)  # sparse: reading it would find NUL bytes and say "not text" instead
    with pytest.raises(InputError, match="fait 200 Mo.*limite 200 Mo"):
        read_csv_export(path, WHERE)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="introuvable"):
        read_csv_export(tmp_path / "absent.csv", WHERE)


# --- Scale and fuzzing ------------------------------------------------------------------------------


def test_fifty_megabyte_file_is_read_whole(tmp_path):
    # How fast is the benchmark's business (bench/RESULTS.md, extraction): a timed test fails on a loaded machine.
    row = 'Bertrand,Léa,lea.bertrand@example.org,Gannat,"Infos (horaires, activités)","0,5"\r\n'
    count = 50_000_000 // len(row.encode("utf-8"))
    header = 'Nom,Prénom,E-mail,Commune,"Infos sur la structure (horaires, activités)",Taux\r\n'
    export = read(tmp_path, (header + row * count).encode("utf-8"))
    assert len(export.rows) == count + 1 and export.first_lines[-1] == count + 1


def check_outcome(path: Path) -> None:
    """Only a CsvExport or an InputError naming the file and quoting no planted cell may come out."""
    try:
        export = read_csv_export(path, WHERE)
    except InputError as error:
        message = str(error)
        assert message.startswith(WHERE), message
        assert not [value for value in PLANTED if value in message], message
    else:
        assert isinstance(export, CsvExport)
        assert len(export.rows) == len(export.first_lines)


def test_random_bytes_give_a_csv_export_or_an_input_error_only(tmp_path):
    rng = random.Random(20240607)
    path = tmp_path / "Suivi - Promeneurs.csv"
    prefixes = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"PK\x03\x04", b'"']
    for _ in range(300):
        path.write_bytes(rng.choice(prefixes) + rng.randbytes(rng.randrange(0, 600)))
        check_outcome(path)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A few random edits of the kind a broken export or a hand edit makes."""
    data = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        at = rng.randrange(len(data) + 1)
        edit = rng.randrange(6)
        if edit == 0:
            data[at:at] = rng.choice([b'"', b";", b",", b"\t", b"\r", b"\n", b"\x00", b"\xe9", b"\xc3\xa9", b'""'])
        elif edit == 1 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif edit == 2:
            del data[at : at + rng.randrange(1, 40)]
        elif edit == 3:
            data[at:at] = data[max(0, at - 50) : at]
        elif edit == 4:
            del data[at:]
        else:
            data[at:at] = rng.randbytes(rng.randrange(1, 8))
    return bytes(data)


def test_mutations_of_valid_files_never_leak_planted_personal_data(tmp_path):
    rng = random.Random(31122024)
    path = tmp_path / "Suivi - Promeneurs.csv"
    text = lines([HEADER, *PEOPLE, [], *PEOPLE], ";").replace("fermé en août", '"fermé\r\nen août"')
    originals = [
        text.encode("utf-8"),
        text.encode("utf-8-sig"),
        text.encode("cp1252"),
        b"\xff\xfe" + text.replace(";", "\t").encode("utf-16-le"),
        text.replace(";", "|").replace("\r\n", "\r").encode("mac_roman"),
    ]
    for original in originals:
        path.write_bytes(original)
        check_outcome(path)
        for _ in range(120):
            path.write_bytes(mutate(original, rng))
            check_outcome(path)


def test_a_cell_over_the_csv_field_limit_is_named_with_its_line_and_column(tmp_path):
    long_cell = "Gannat " * 20_000  # 140,000 characters: more than csv's 131,072, closed quotes
    text = f'Nom,Commentaire\r\nBertrand,court\r\nMartin,"{long_cell}"\r\nDurand,Riom\r\n'
    message = refused(tmp_path, text.encode("utf-8"))
    assert "ligne 3, colonne 2 (B) : cellule de plus de 131 072 caractères (140 000)" in message
    assert "jamais refermé" not in message
    assert csv.field_size_limit() == 131_072  # the process-wide limit is put back
