"""``decode_untrusted_json``: every way a JSON text can hurt becomes one ``RejectedJSON``."""

from __future__ import annotations

import pytest

from tools.untrusted_json import RejectedJSON, decode_untrusted_json


def test_plain_json_decodes_unchanged() -> None:
    text = b'{"a": [1, -2, 3.5, "x\\u00e9", null, true], "b": {"c": 1' + b"0" * 4_299 + b"}}"
    assert decode_untrusted_json(text, max_depth=3) == {
        "a": [1, -2, 3.5, "x\u00e9", None, True],
        "b": {"c": 10**4_299},
    }


@pytest.mark.parametrize(
    ("text", "malformed", "reason"),
    [
        # Deeper than the interpreter's recursion limit: msgspec raises RecursionError.
        (b"[" * 100_000 + b"]" * 100_000, False, "nested more than 32 levels"),
        # Within the recursion limit but beyond ours.
        (b"[" * 33 + b"]" * 33, False, "nested more than 32 levels"),
        (b'{"a": ' * 33 + b"1" + b"}" * 33, False, "nested more than 32 levels"),
        # Invalid UTF-8 inside a string: msgspec raises UnicodeDecodeError.
        (b'{"email": "\xff\xfe@example.org"}', True, "not valid UTF-8"),
        (b'{"n": ' + b"9" * 5_000 + b"}", False, "out of range"),
        (b'{"n": -' + b"9" * 4_301 + b"}", False, "out of range"),
        (b'{"n": 1e400}', False, "out of range"),
        (b'{"question": "a\\u0000b"}', False, "NUL"),
        (b'{"a\\u0000": 1}', False, "NUL"),
        (b'[["\\u0000"]]', False, "NUL"),
        (b'{"a": "\\ud800"}', True, "invalid \\\\u escape"),
        (b"{bad", True, "object keys must be strings"),
        (b"", True, "ends before the JSON value is complete"),
    ],
)
def test_harmful_json_is_rejected_with_its_kind(text: bytes, malformed: bool, reason: str) -> None:
    with pytest.raises(RejectedJSON, match=reason) as caught:
        decode_untrusted_json(text, max_depth=32)
    assert caught.value.malformed is malformed


def test_depth_counts_arrays_and_objects() -> None:
    assert decode_untrusted_json(b'{"a": [1]}', max_depth=2) == {"a": [1]}
    assert decode_untrusted_json(b"7", max_depth=0) == 7
    with pytest.raises(RejectedJSON, match="nested more than 1 levels"):
        decode_untrusted_json(b'{"a": [1]}', max_depth=1)
