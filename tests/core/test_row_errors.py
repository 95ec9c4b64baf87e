"""A refused file's bad rows, named the one way: by their line in the file, the field and the message, on the
pages (``forms.row_errors``) and in the commands (``commands.rows_at_lines``); a count of rows in its plural."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError

from app.core import commands
from app.core.errors import InvalidInput, field_error
from app.core.forms import row_errors
from tests.conftest import in_language


class Row(BaseModel):
    month: str
    orders: int = Field(ge=0)


def _schema_error(index: int, row: dict) -> dict:
    """A row's schema error as the services keep it: its loc in the batch, pydantic's type and ctx."""
    try:
        Row.model_validate(row)
    except ValidationError as exc:
        err = exc.errors()[0]
        return {"loc": ["rows", index, *err["loc"]], "msg": err["msg"], "type": err["type"],
                "ctx": err.get("ctx"), "template": err["msg"], "params": {}}
    raise AssertionError("the row is valid")


def test_a_bad_row_is_named_by_its_line_in_the_file_with_its_field_and_message_in_korean():
    exc = InvalidInput("{n} row is invalid; nothing was saved", plural="{n} rows are invalid; nothing was saved",
                       n=2, errors=[_schema_error(1, {"month": "2027-05", "orders": -1}),
                                    field_error(["rows", 4, "brn"], "This field is required.")])
    assert in_language("ko", None, lambda: row_errors(exc)) == [
        {"line": "3", "field": "orders", "msg": "0 이상이어야 합니다."},
        {"line": "6", "field": "brn", "msg": "필수 항목입니다."}]


def test_an_error_already_at_a_line_or_not_at_a_row_keeps_its_place():
    exc = InvalidInput("Bad file", errors=[field_error(["line", 7, "q1"], "This field is required."),
                                           field_error("body", "The CSV file has no header row")])
    assert [(r["line"], r["field"]) for r in row_errors(exc)] == [("7", "q1"), ("", "body")]


def test_a_refusal_without_rows_shows_its_own_message_in_its_plural():
    one = InvalidInput("{n} row is invalid; nothing was saved", plural="{n} rows are invalid; nothing was saved", n=1)
    two = InvalidInput("{n} row is invalid; nothing was saved", plural="{n} rows are invalid; nothing was saved", n=2)
    assert (one.detail, two.detail) == ("1 row is invalid; nothing was saved", "2 rows are invalid; nothing was saved")
    assert in_language("en", None, lambda: row_errors(two)) == [{"line": "", "field": "", "msg": two.detail}]
    assert in_language("ko", "lguplus.merchants", one.message) == "1개 행이 잘못되어 아무것도 저장하지 않았습니다"


@pytest.mark.parametrize(("first_row", "line"), [(0, 3), (50, 53)])
def test_a_command_names_the_row_of_a_batch_by_the_same_line(first_row, line):
    with pytest.raises(InvalidInput) as caught, commands.rows_at_lines(first_row):
        raise InvalidInput("Bad", errors=[field_error(["rows", 1, "month"], "Enter a date as YYYY-MM-DD.")])
    assert caught.value.errors[0]["loc"] == ["line", line, "month"]
    exc = InvalidInput("Bad", errors=[field_error(["rows", 1 + first_row, "month"], "Enter a date as YYYY-MM-DD.")])
    assert row_errors(exc)[0]["line"] == str(line)  # the page names the same line
