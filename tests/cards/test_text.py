from __future__ import annotations

import re

import pytest

from cards.text import plain, truncate

SPECIALS = set("\\`*_{}[]<>~")  # markdown anywhere in a line; list and heading markers only at its start


def unescaped_specials(text: str) -> list[str]:
    """Markdown specials in `text` that are not preceded by an escaping backslash."""
    found, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            i += 2
            continue
        if text[i] in SPECIALS:
            found.append(text[i])
        i += 1
    return found


@pytest.mark.parametrize(
    "text",
    [
        "[click](http://evil)",
        "**bold**",
        "__bold__ and _it_",
        "<at>x</at>",
        "`code` ~~strike~~ # heading",
        "1. first\n- second\n+ third",
        "![img](http://evil/x.png)",
        "a\\*b",
        "| a | b |",
        "{{DATE(2026-01-01T00:00:00Z)}}",
    ],
)
def test_plain_escapes_every_markdown_special(text: str) -> None:
    out = plain(text, None)
    assert unescaped_specials(out) == []
    assert not re.match(r"[#+\-]|\d+[.)]", out), "a heading or list marker at the start stays escaped"
    # Removing the escapes gives back the text (whitespace collapsed): nothing lost, nothing added.
    assert re.sub(r"\\(.)", r"\1", out) == " ".join(text.split())


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("- item", r"\- item"),
        ("# big", r"\# big"),
        ("+ plus", r"\+ plus"),
        ("1. first", r"1\. first"),
        ("12) twelfth", r"12\) twelfth"),
    ],
)
def test_list_and_heading_markers_are_escaped_at_the_start(text: str, out: str) -> None:
    assert plain(text) == out


def test_ordinary_punctuation_is_left_alone() -> None:
    """Some Teams clients show a backslash escape literally: domains, names and amounts carry none."""
    for text in ["northwindtraders.co.uk", "Co-sell (EMEA) deal", "USD 1.5M!", "a - b", "50% | 2026-01-01", "#1 fan"]:
        assert plain(text) == (text if not text.startswith("#") else "\\" + text)


def test_link_bold_and_mention_cannot_render() -> None:
    assert plain("[click](http://evil)") == r"\[click\](http://evil)"
    assert plain("**bold**") == r"\*\*bold\*\*"
    assert plain("<at>x</at>") == r"\<at\>x\</at\>"
    assert not re.search(r"(?<!\\)\]\(", plain("[a](b)"))  # no unescaped "](": no link
    assert "<at>" not in plain("<at>x</at>")


def test_plain_is_one_line_and_handles_nothing() -> None:
    assert plain(None) == ""
    assert plain("") == ""
    assert plain("  Contoso \n\n Ltd\t ") == "Contoso Ltd"


def test_plain_truncates_before_escaping() -> None:
    out = plain("*" * 1000, 10)
    assert out == "\\*" * 9 + "…"
    assert unescaped_specials(out) == []
    assert len(plain("x" * 5000)) == 300


def test_truncate() -> None:
    assert truncate("abcdef", 10) == "abcdef"
    assert truncate("abcdef", 4) == "abc…"
    assert truncate("ab   cdef", 4) == "ab…"
    assert truncate("abc", 0) == ""
