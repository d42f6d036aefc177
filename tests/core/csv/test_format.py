"""CSV files as people and spreadsheets write them: columns, encodings and
separators (Excel's semicolons and Windows-1252), quoting, field counts, line
ends, and cells a spreadsheet would run as formulas.

Every problem names its line (and column where there is one); nothing is
written when the file cannot be read."""

from __future__ import annotations

import pytest

from contacts_tui.core.csv.dialect import SNIFF_BYTES, CsvFormat
from contacts_tui.core.csv.importer import ImportFailed
from contacts_tui.core.csv.read import CsvFormatError

from ..helpers import HEADER, csv_text, import_text

GOOD = "owner@acme.example,Acme Ltd,Bea,bea@acme.example,,,billing"
OTHER = "info@globex.example,Globex,Hank,hank@globex.example,,,"


def format_error(directory, data: bytes, **options) -> str:
    with pytest.raises(CsvFormatError) as caught:
        import_text(directory, data, **options)
    assert directory.counts() == (0, 0)
    return str(caught.value)


def failures(directory, data: bytes, **options) -> list[str]:
    with pytest.raises(ImportFailed) as caught:
        import_text(directory, data, **options)
    assert directory.counts() == (0, 0)
    return [str(e) for e in caught.value.report.errors]


@pytest.mark.parametrize(
    "header, problem",
    [
        ("email,name,contact,contact_mail,phone,role,categories", "missing column(s) customer_email, customer_name"),
        (HEADER + ",note", "unknown column(s) 'note'"),
        (HEADER + ",", "unknown column(s) an empty one (a comma too many?)"),
        (HEADER.replace(",categories", ""), "missing column(s) categories"),
        (HEADER.replace("role", "phone"), "missing column(s) role; repeated column(s) phone"),
        (HEADER + ",role", "repeated column(s) role"),
        (
            "Customer_Email,customer_name,contact_name,contact_email,phone,role,categories",
            "missing column(s) customer_email",
        ),
    ],
)
def test_wrong_columns_are_refused_on_line_1(directory, header, problem):
    message = format_error(directory, csv_text(GOOD, header=header))
    assert message.startswith("line 1: ") and problem in message
    assert message.endswith("expected " + HEADER + " (optional after them: notes,language)")


def test_columns_in_another_order_and_with_spaces_are_read_by_name(directory):
    header = "categories, role ,phone,contact_email,contact_name,customer_name,customer_email"
    import_text(directory, csv_text("billing,Billing,,bea@acme.example,Bea,Acme Ltd,owner@acme.example", header=header))
    acme = directory.find_customer("owner@acme.example")
    [bea] = directory.list_contacts(acme.id)
    assert (bea.name, bea.role, bea.categories) == ("Bea", "Billing", ("billing",))


def test_a_repeated_header_line_is_a_bad_row(directory):
    errors = failures(directory, csv_text(GOOD, HEADER))
    assert errors[0] == (
        "line 3, column customer_email: 'customer_email' is not a valid email address: "
        "An email address must have an @-sign."
    )
    assert all(e.startswith("line 3, ") for e in errors)


def test_a_windows_1252_file_as_excel_saves_it_is_read_as_such(directory):
    data = csv_text(GOOD) + "owner@acme.example,Acme Ltd,José Peña,jose@acme.example,,,\n".encode("cp1252")
    report = import_text(directory, data)
    assert report.csv_format.encoding == "cp1252" and report.csv_format.guessed_encoding
    assert report.csv_format.describe() == "Windows-1252, separated by commas"
    acme = directory.find_customer("owner@acme.example")
    assert [c.name for c in directory.list_contacts(acme.id)] == ["Bea", "José Peña"]


def test_a_line_that_is_not_utf8_after_a_utf8_start_is_reported_with_its_line(directory):
    # The encoding is judged on the start of the file; a stray byte later is the file's mistake.
    filler = [f"c{n}@fill.example,Filler {n},,,,," for n in range(SNIFF_BYTES // 30)]
    data = csv_text(*filler) + "owner@acme.example,Acme Ltd,José,jose@acme.example,,,\n".encode("latin-1")
    errors = failures(directory, data)
    assert errors == [
        f"line {len(filler) + 2}: not valid UTF-8 (byte 0xE9 at position 32); save the file as UTF-8, "
        "or give --encoding (Excel's CSV is often cp1252)"
    ]


def test_latin1_bytes_in_the_header_of_a_file_said_to_be_utf8_stop_the_import(directory):
    data = (HEADER + ",caf\xe9\n").encode("latin-1") + GOOD.encode()
    message = format_error(directory, data, csv_format=CsvFormat(encoding="utf-8"))
    assert message.startswith("line 1: not valid UTF-8 (byte 0xE9")


def test_latin1_bytes_inside_a_quoted_multiline_field_name_its_line(directory):
    data = csv_text(GOOD) + b'owner@acme.example,Acme Ltd,"Jos\xe9\nSmith",j@acme.example,,,\n' + OTHER.encode() + b"\n"
    errors = failures(directory, data, csv_format=CsvFormat(encoding="utf-8"))
    assert errors[0].startswith("line 3: not valid UTF-8")


def test_a_given_encoding_wins_over_the_guess(directory):
    data = csv_text("owner@acme.example,Acme Ltd,Łucja,l@acme.example,,,").decode().encode("cp1250")
    report = import_text(directory, data, csv_format=CsvFormat(encoding="cp1250"))
    assert not report.csv_format.guessed_encoding
    [lucja] = directory.list_contacts(directory.find_customer("owner@acme.example").id)
    assert lucja.name == "Łucja"


def test_excel_unicode_text_utf16_with_tabs_is_read(directory):
    text = "\n".join([HEADER, GOOD]).replace(",", "\t") + "\n"
    report = import_text(directory, text.encode("utf-16"))
    assert (report.csv_format.delimiter, report.csv_format.encoding) == ("\t", "utf-16")
    assert directory.counts() == (1, 1)


def test_utf8_bom_is_accepted(directory):
    import_text(directory, b"\xef\xbb\xbf" + csv_text(GOOD))
    assert directory.counts() == (1, 1)


def test_quoted_fields_keep_commas_quotes_and_non_ascii(directory):
    data = csv_text(
        'owner@acme.example,"Acme, Ltd.","Bea ""Books"" Müller",bea@acme.example,"+31 (20) 555",,"billing;account"'
    )
    import_text(directory, data)
    acme = directory.find_customer("owner@acme.example")
    [bea] = directory.list_contacts(acme.id)
    assert (acme.name, bea.name, bea.phone, bea.categories) == (
        "Acme, Ltd.",
        'Bea "Books" Müller',
        "+31 (20) 555",
        ("billing", "account"),
    )


def test_a_newline_inside_a_quoted_name_is_refused_and_later_lines_keep_their_numbers(directory):
    data = csv_text(
        GOOD,
        'owner@acme.example,Acme Ltd,"Eve\nBcc: mallory@evil.example",eve@acme.example,,,',
        "owner@acme.example,Acme Ltd,Tom,tom@acme,,,",
    )
    assert failures(directory, data) == [
        "line 3, column contact_name: Name may not contain line breaks or control characters",
        "line 5, column contact_email: 'tom@acme' is not a valid email address: "
        "The part after the @-sign is not valid. It should have a period.",
    ]


def test_an_unclosed_quote_is_broken_quoting_at_its_line(directory):
    data = csv_text(GOOD, 'owner@acme.example,"Acme Ltd,Tom,tom@acme.example,,,', OTHER, OTHER)
    message = format_error(directory, data)
    assert message.startswith("line 3: broken quoting:") and "is a quote missing?" in message


def test_text_after_a_closing_quote_is_broken_quoting(directory):
    message = format_error(directory, csv_text(GOOD, OTHER, 'owner@acme.example,"Acme" Ltd,Tom,tom@acme.example,,,'))
    assert message.startswith("line 4: broken quoting:")


@pytest.mark.parametrize(
    "row, found",
    [
        ("owner@acme.example,Acme Ltd,Tom,tom@acme.example,,,,", "found 8 (an unquoted comma in a value?)"),
        ("owner@acme.example,Acme Ltd,Tom,tom@acme.example", "found 4 (a field left out?)"),
    ],
)
def test_a_wrong_field_count_is_reported_per_row(directory, row, found):
    assert failures(directory, csv_text(GOOD, row, OTHER)) == [f"line 3: expected 7 fields, {found}"]


@pytest.mark.parametrize("separator", [";", "\t", "|"])
def test_the_separator_is_found_in_the_header_line(directory, separator):
    cells = ["owner@acme.example", '"Acme; Ltd | Co"', "Bea", "bea@acme.example", "+31 20", "", '"billing;account"']
    row = separator.join(cells)
    report = import_text(directory, csv_text(row, header=HEADER.replace(",", separator)))
    assert report.csv_format.delimiter == separator
    acme = directory.find_customer("owner@acme.example")
    [bea] = directory.list_contacts(acme.id)
    assert (acme.name, bea.phone, bea.categories) == ("Acme; Ltd | Co", "+31 20", ("billing", "account"))


def test_a_wrong_separator_given_says_which_one_the_file_uses(directory):
    data = csv_text(GOOD.replace(",", ";"), header=HEADER.replace(",", ";"))
    message = format_error(directory, data, csv_format=CsvFormat(delimiter=","))
    assert message == (
        "line 1: the columns are separated by semicolons, not by commas; "
        "leave out --delimiter and the separator is found by itself"
    )


def test_an_empty_file_says_what_the_first_line_must_be(directory):
    assert format_error(directory, b"") == "line 1: the file is empty; the first line must name the columns"


def test_a_header_only_file_imports_nothing(directory):
    report = import_text(directory, csv_text())
    assert report.rows == 0 and directory.counts() == (0, 0)


def test_blank_lines_are_skipped(directory):
    import_text(directory, csv_text("", GOOD, "", "", "owner@acme.example,Acme Ltd,Tom,tom@acme.example,,,"))
    assert directory.counts() == (1, 2)


def test_crlf_line_endings_are_read_like_lf(directory):
    data = csv_text(GOOD, 'owner@acme.example,Acme Ltd,"Tom, T.",tom@acme.example,,,account').replace(b"\n", b"\r\n")
    import_text(directory, data)
    acme = directory.find_customer("owner@acme.example")
    assert sorted(c.name for c in directory.list_contacts(acme.id)) == ["Bea", "Tom, T."]


def test_crlf_file_reports_the_right_line(directory):
    data = csv_text(GOOD, OTHER, "owner@acme.example,Acme Ltd,Tom,tom@,,,").replace(b"\n", b"\r\n")
    assert failures(directory, data)[0].startswith("line 4, column contact_email:")


def test_a_lone_carriage_return_inside_a_field_is_refused(directory):
    data = csv_text('owner@acme.example,Acme Ltd,"Eve\rX-Evil: 1",eve@acme.example,,,')
    assert failures(directory, data) == [
        "line 2, column contact_name: Name may not contain line breaks or control characters"
    ]


def test_receive_all_is_spelled_all_in_any_case(directory):
    import_text(directory, csv_text("owner@acme.example,Acme Ltd,Ann,ann@acme.example,,, ALL "))
    acme = directory.find_customer("owner@acme.example")
    assert directory.list_contacts(acme.id)[0].receive_all is True


def test_all_mixed_with_categories_is_an_unknown_category(directory):
    errors = failures(directory, csv_text("owner@acme.example,Acme Ltd,Ann,ann@acme.example,,,billing;all"))
    assert errors == ["line 2, column categories: Unknown category 'all'; the catalog has billing, account"]
