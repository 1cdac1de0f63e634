"""The shared decoding and cell-value parsing of hotline_kpi.ingest.text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from openpyxl.utils.datetime import MAC_EPOCH

from hotline_kpi.i18n import set_language
from hotline_kpi.ingest.text import (
    BadValue,
    UndecodableText,
    decode_bytes,
    decode_prefix,
    excel_serial_date,
    header_key,
    is_unknown,
    parse_count,
    parse_date,
    parse_number,
    parse_ratio,
    parse_seconds,
    split_unit,
)

# --- decoding -------------------------------------------------------------------------------

HEADER = "日期,受理量,呼入量\n2019-01-01,1,2\n"


@pytest.fixture(autouse=True)
def _english():
    """These tests read the parsers' reasons in English (``--lang en``); the Chinese of the
    same cases is walked by tests/test_messages.py."""
    set_language("en")



def test_utf8_without_bom_is_read_as_utf8():
    decoded = decode_bytes(HEADER.encode("utf-8"))
    assert (decoded.text, decoded.encoding, decoded.had_bom) == (HEADER, "utf-8", False)


def test_utf8_bom_is_removed_so_the_first_header_is_clean():
    decoded = decode_bytes(b"\xef\xbb\xbf" + HEADER.encode("utf-8"))
    assert decoded.text == HEADER
    assert decoded.text.split(",")[0] == "日期"
    assert decoded.had_bom


def test_gbk_bytes_are_read_as_gb18030():
    decoded = decode_bytes(HEADER.encode("gbk"))
    assert (decoded.text, decoded.encoding) == (HEADER, "gb18030")


def test_a_character_only_gb18030_has_is_decoded():
    text = "䶮 热线日报\n" + HEADER
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")
    assert decode_bytes(text.encode("gb18030")).text == text


def test_utf8_that_is_also_valid_gb18030_is_read_as_utf8():
    text = "日期,受理总量,话务员受理量\n"
    data = text.encode("utf-8")
    mojibake = data.decode("gb18030")  # the trap: these bytes are valid GB18030 too
    assert mojibake != text
    assert decode_bytes(data).text == text


def test_bytes_valid_in_neither_encoding_are_rejected_with_the_offset():
    data = b"date,x\n" + b"\xff\xff" + b",1\n"
    with pytest.raises(UndecodableText) as err:
        decode_bytes(data)
    assert err.value.offset == 7
    assert "neither UTF-8" in err.value.why and "GB18030" in err.value.why


def test_utf8_cut_inside_its_last_character_is_rejected_not_read_as_gb18030():
    data = ("日期,受理量\n2019-01-01,1\n日" + "期").encode("utf-8")[:-1]
    with pytest.raises(UndecodableText) as err:
        decode_bytes(data)
    assert "truncated" in err.value.why
    assert err.value.offset == len(data) - 2


def test_gb18030_cut_inside_its_last_character_is_rejected():
    data = "日期,受理量\n合计".encode("gb18030")[:-1]
    with pytest.raises(UndecodableText) as err:
        decode_bytes(data)
    assert "truncated" in err.value.why


def test_ascii_followed_by_a_final_gbk_character_is_gbk_not_truncated_utf8():
    # E4 B8 would start a 3-byte UTF-8 character, but in GBK it is one whole character.
    data = b"date,count\n" + bytes([0xE4, 0xB8])
    assert decode_bytes(data).encoding == "gb18030"


def test_nul_bytes_mean_binary_data():
    with pytest.raises(UndecodableText) as err:
        decode_bytes(b"abc\x00\x01\x02")
    assert "binary" in err.value.why and err.value.offset == 3


def test_utf16_with_its_bom_is_read_and_without_it_is_named_as_such():
    decoded = decode_bytes(HEADER.encode("utf-16"))  # Excel's "Unicode text": BOM FF FE (issue #13)
    assert decoded.text == HEADER and decoded.encoding == "utf-16"
    assert decode_bytes(b"\xfe\xff" + HEADER.encode("utf-16-be")).text == HEADER
    with pytest.raises(UndecodableText, match="UTF-16"):
        decode_bytes(HEADER.encode("utf-16-le"))  # no BOM: which byte order is a guess
    with pytest.raises(UndecodableText, match="truncated"):
        decode_bytes(HEADER.encode("utf-16")[:-1])


def test_decode_prefix_tolerates_a_head_cut_mid_character_but_not_binary():
    head = HEADER.encode("utf-8")[:4]  # "日" and one byte of "期"
    assert decode_prefix(head) == "日"
    assert decode_prefix(b"\x00PK") is None


# --- header text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, expected",
    [
        ("平均接通时长(秒)", ("平均接通时长", "秒")),
        ("平均接通时长（秒）", ("平均接通时长", "秒")),
        ("接通率(%)", ("接通率", "%")),
        ("接通率（％）", ("接通率", "%")),
        ("接通率%", ("接通率", "%")),
        ("受理量\n(个)", ("受理量", "个")),
        (" 合　计 ", ("合计", None)),
        ("Calls\nOffered", ("callsoffered", None)),
        ("CALLS_OFFERED", ("callsoffered", None)),
    ],
)
def test_split_unit_normalises_width_whitespace_and_case(header, expected):
    assert split_unit(header) == expected


def test_header_key_drops_underscores_and_hyphens():
    assert header_key("Calls-Offered") == header_key("calls_offered") == "callsoffered"


# --- numbers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "  ", "—", "——", "–", "-", "－", "/", "N/A", "n/a"])
def test_unknown_markers_are_unknown(value):
    assert is_unknown(value)
    assert parse_count(value) is None
    assert parse_ratio(value) is None


@pytest.mark.parametrize("value", ["0", 0, "0%", "#N/A"])
def test_zero_and_excel_errors_are_not_unknown(value):
    assert not is_unknown(value)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("11,024", Decimal("11024")),
        ("1,234,567", Decimal("1234567")),
        ("１１，０２４", Decimal("11024")),
        (" 11024 ", Decimal("11024")),
        ("1.2E+04", Decimal("12000")),
        (11024, Decimal("11024")),
        (0.9235, Decimal("0.9235")),
    ],
)
def test_numbers_in_their_written_forms(value, expected):
    number = parse_number(value)
    assert number is not None and number.value == expected


@pytest.mark.parametrize("value", ["NaN", "nan", "inf", "-inf", "Infinity", float("nan"), float("inf")])
def test_nan_and_infinity_are_errors(value):
    with pytest.raises(BadValue, match="finite"):
        parse_number(value)


@pytest.mark.parametrize("value", ["1,1,1", "12a", "一万", True, "#DIV/0!", dt.date(2019, 1, 1)])
def test_non_numbers_are_errors(value):
    with pytest.raises(BadValue):
        parse_number(value)


def test_counts_must_be_whole_but_may_be_written_with_a_zero_fraction():
    assert parse_count("11024.0") == 11024 and isinstance(parse_count("11024.0"), int)
    assert parse_count(11024.0) == 11024 and isinstance(parse_count(11024.0), int)
    with pytest.raises(BadValue, match="whole"):
        parse_count("11024.5")
    assert parse_count("11024.5", whole=False) == 11024.5


def test_a_percentage_is_not_a_count():
    with pytest.raises(BadValue, match="percentage"):
        parse_count("95%")


def test_negative_counts_are_returned_for_the_range_checks_to_report():
    assert parse_count("-3") == -3


# --- rates --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, kwargs, ratio, half_unit",
    [
        ("92.35%", {}, "0.9235", "0.00005"),
        ("９５．５％", {}, "0.955", "0.0005"),
        ("0.9235", {}, "0.9235", "0.00005"),
        (0.9235, {}, "0.9235", None),
        ("92%", {}, "0.92", "0.005"),
        ("92.35", {"percent_column": True}, "0.9235", "0.00005"),
        (92.35, {"percent_column": True}, "0.9235", None),
        ("92.35%", {"percent_column": True}, "0.9235", "0.00005"),
        (0.955, {"percent_column": True, "percent_formatted": True}, "0.955", None),
        ("1", {}, "1", "0.5"),
    ],
)
def test_ratios_in_their_written_forms(value, kwargs, ratio, half_unit):
    measured = parse_ratio(value, **kwargs)
    assert measured is not None
    assert measured.value == Decimal(ratio)
    assert measured.half_unit == (None if half_unit is None else Decimal(half_unit))


def test_a_rate_above_one_without_a_percent_sign_is_an_error():
    with pytest.raises(BadValue, match="needs a % sign"):
        parse_ratio("92.35")
    with pytest.raises(BadValue, match="needs a % sign"):
        parse_ratio(92.35)


@pytest.mark.parametrize("value", ["105%", "-1%", "-0.1"])
def test_rates_outside_zero_to_one_are_errors(value):
    with pytest.raises(BadValue):
        parse_ratio(value)


def test_seconds_keep_their_precision_and_refuse_percentages_and_negatives():
    measured = parse_seconds("7.5")
    assert measured is not None and measured.value == Decimal("7.5") and measured.half_unit == Decimal("0.05")
    with pytest.raises(BadValue):
        parse_seconds("7%")
    with pytest.raises(BadValue):
        parse_seconds("-1")


# --- dates ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2019-01-01", "2019/1/1", "2019.1.1", "2019年1月1日", "2019年01月01日", "20190101", "２０１９年１月１日",
        "2019-01-01 00:00:00", "2019/1/1 0:00", "2019-01-01T00:00:00", " 2019-1-1 ",
        "43466", "43466.0", 43466, 43466.0, 20190101,
        dt.date(2019, 1, 1), dt.datetime(2019, 1, 1),
    ],
)
def test_dates_in_their_written_forms(value):
    assert parse_date(value) == dt.date(2019, 1, 1)


def test_serial_numbers_follow_the_workbook_epoch():
    assert parse_date(43466) == dt.date(2019, 1, 1)
    assert parse_date(43466 - 1462, epoch=MAC_EPOCH) == dt.date(2019, 1, 1)
    assert excel_serial_date(61) == dt.date(1900, 3, 1)
    assert excel_serial_date(59) == dt.date(1900, 2, 28)


def test_serial_60_is_the_fictitious_29_february_1900_only_in_the_1900_system():
    with pytest.raises(BadValue, match="29 February 1900"):
        parse_date(60)
    with pytest.raises(BadValue, match="29 February 1900"):
        parse_date("60")
    assert parse_date(60, epoch=MAC_EPOCH) == dt.date(1904, 3, 1)


@pytest.mark.parametrize(
    "value, why",
    [
        ("2019-02-30", "not a real date"),
        ("2019-01-01 08:30", "time of day"),
        (dt.datetime(2019, 1, 1, 8, 30), "time of day"),
        (43466.5, "time of day"),
        ("一月一日", "not a date"),
        ("2019-13-01", "not a real date"),
        (0, "below 1"),
        (True, "TRUE/FALSE"),
    ],
)
def test_bad_dates_say_why(value, why):
    with pytest.raises(BadValue, match=why):
        parse_date(value)


def test_a_blank_date_is_none():
    assert parse_date(None) is None and parse_date("  ") is None
