"""Each journal line is checked before it is applied, and a bad one says what is wrong."""

from __future__ import annotations

import json

import pytest

from poster.store.change import Change
from poster.store.journalread import _decode_change

GOOD = {"seq": 7, "table": "feeds", "put": {"3": {"feed": "news"}}, "delete": ["4"]}


def test_a_good_line_gives_the_change_it_records() -> None:
    setting = {**GOOD, "set": {"fields": {"paused": True}, "ids": ["1", "2"]}}
    assert _decode_change(json.loads(json.dumps(GOOD))) == Change(
        "feeds", {"3": {"feed": "news"}}, ("4",), 7
    )
    assert _decode_change(setting) == Change(
        "feeds", {"3": {"feed": "news"}}, ("4",), 7, {"paused": True}, ("1", "2")
    )
    assert _decode_change({"table": "meta", "put": {}, "delete": []}).seq == 0


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ([GOOD], "is not a change"),
        ({**GOOD, "table": 3}, "is not a change"),
        ({**GOOD, "delete": "4"}, "is not a change"),
        ({**GOOD, "seq": "7"}, "is not a change"),
        ({**GOOD, "seq": 7.0}, "is not a change"),
        ({k: v for k, v in GOOD.items() if k != "put"}, "table 'feeds' is not an object"),
        ({**GOOD, "put": [1]}, "table 'feeds' is not an object"),
        ({**GOOD, "put": {"one": {}}}, "table 'feeds' document 'one' is not a numbered object"),
        ({**GOOD, "put": {"3": {}, "٣": {}}}, "document '٣' is not a numbered object"),
        ({**GOOD, "put": {"3": [1]}}, "document '3' is not a numbered object"),
        ({**GOOD, "delete": [4]}, "deletes something that is not a document id"),
        ({**GOOD, "set": None}, "sets fields in a way that is not a change"),
        ({**GOOD, "set": {"fields": {}, "ids": [1]}}, "sets fields on something that is not"),
    ],
    ids=[
        "not-an-object", "table-name", "delete-not-a-list", "seq-text", "seq-float", "no-put",
        "put-not-an-object", "id-not-numeric", "id-not-ascii", "document-not-an-object",
        "deleted-id-not-text", "set-null", "set-ids-not-text",
    ],
)  # fmt: skip
def test_a_bad_line_says_what_is_wrong(line: object, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        _decode_change(line)
