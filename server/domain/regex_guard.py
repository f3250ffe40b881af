"""Which `regex` filters may run: a small grammar whose patterns match in linear time in a
backtracking engine (MongoDB's PCRE), checked by construction rather than by a list of bad shapes.

The grammar: literal characters and escapes, classes (`[a-z]`, `\\d`, `\\w`, `\\s` and their
negations), `.`, the anchors `^ $ \\A \\Z \\b \\B`, groups `(...)` / `(?:...)` with alternation
`|`, and repetitions `* + ? {m} {m,} {m,n}` (lazy too) of ONE character, class or `.`: never of a
group, and never inside a group. Such a pattern's only choices are its repetitions and its
alternations; backtracking grows with the text only when two of them can both take the same
text (`a*a*`, `\\w*\\w*`, the search's own start before an unanchored `a+$`). So two choices
whose characters overlap must be apart by something neither can take; the last item of a
pattern is exempt (reaching it ends the match). Character sets are compared case-insensitively
and in both the ASCII and the Unicode reading of `\\d \\w \\s`, whichever MongoDB uses.
tests/security/test_redos.py holds generated patterns to an independent checker (recheck).
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass, field

from bucketd.server.errors import InvalidArgument

MAX_REPEAT_COUNT = 1000
# Every BMP character, and astral ones of each kind (letters, digits, symbols, private use):
# two classes overlap when some character of this universe is in both.
_ASTRAL = "\U00010000\U0001d7ce\U0001f600\U00020000\U000e0001\U0010fffd"
_UNIVERSE = "".join(map(chr, range(0x10000))) + _ASTRAL
_EVERY = int.from_bytes(b"\x01" * len(_UNIVERSE))
_CLASS_ESCAPES = frozenset("dDwWsS")
_LITERAL_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f"}
_ANCHORS = frozenset("^$")
_ANCHOR_ESCAPES = frozenset("AZbB")
_START = "(the search's start)"
_QUANTIFIER = re.compile(r"\*|\+|\?|\{(\d+)(,(\d*))?\}")


@functools.lru_cache(maxsize=512)
def _chars(source: str) -> int:
    """The characters of the universe that the one-character regex `source` matches, as a
    bit mask: case-insensitively, in the Unicode and in the ASCII reading of its escapes."""
    marks = bytearray(len(_UNIVERSE))
    for flags in (re.IGNORECASE | re.DOTALL, re.IGNORECASE | re.DOTALL | re.ASCII):
        for found in re.compile(source, flags).finditer(_UNIVERSE):
            marks[found.start()] = 1
    return int.from_bytes(marks)


@dataclass
class _Item:
    """One step of a sequence: `chars` it may take, whether it is a `choice` (a repetition
    of varying count, an alternation) and whether it may take nothing (`optional`)."""

    text: str
    chars: int
    choice: bool = False
    optional: bool = False
    repeat: bool = False


@dataclass
class _Parser:
    pattern: str
    at: int = 0
    groups: list[int] = field(default_factory=list)

    def refuse(self, why: str) -> InvalidArgument:
        return InvalidArgument(f"filters: regex {self.pattern!r}: {why}")

    def peek(self) -> str:
        return self.pattern[self.at] if self.at < len(self.pattern) else ""

    def alternatives(self) -> list[list[_Item]]:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.at += 1
            branches.append(self.sequence())
        return branches

    def sequence(self) -> list[_Item]:
        items: list[_Item] = []
        while self.peek() not in ("", "|", ")"):
            items.append(self.item())
        return items

    def item(self) -> _Item:
        start, char = self.at, self.peek()
        if char == "(":
            return self.group()
        if char in _ANCHORS or (
            char == "\\" and self.pattern[self.at + 1 : self.at + 2] in _ANCHOR_ESCAPES
        ):
            self.at += 1 if char in _ANCHORS else 2
            if self.repeat_follows():
                raise self.refuse("an anchor cannot be repeated")
            return _Item(self.pattern[start : self.at], 0, optional=True)
        source = self.atom()
        return self.repeated(_Item(source, _chars(source)))

    def atom(self) -> str:
        """The source of one character, class or `.`, checked to mean the same to PCRE."""
        char = self.peek()
        if char == "\\":
            return self.escape()
        if char == "[":
            return self.char_class()
        if char in "*+?{":
            raise self.refuse(f"{char!r} at {self.at} repeats nothing; escape it as \\{char}")
        if char in "}]":
            raise self.refuse(f"escape {char!r} (at {self.at}) as \\{char}")
        if ord(char) > 0xFFFF:
            raise self.refuse("characters past U+FFFF are not supported; match them with .")
        self.at += 1
        return "." if char == "." else re.escape(char)

    def escape(self) -> str:
        char = self.pattern[self.at + 1 : self.at + 2]
        self.at += 2
        if char in _CLASS_ESCAPES and char:
            return "\\" + char
        if char in _LITERAL_ESCAPES:
            return re.escape(_LITERAL_ESCAPES[char])
        if char == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", self.pattern[self.at : self.at + 2]):
            self.at += 2
            return re.escape(chr(int(self.pattern[self.at - 2 : self.at], 16)))
        if char and not char.isalnum() and char.isascii():
            return re.escape(char)
        raise self.refuse(
            f"the escape \\{char} is not supported (no back-references, \\p or \\u); "
            "use \\d \\w \\s, \\xHH or escape punctuation"
        )

    def char_class(self) -> str:
        start = self.at
        self.at += 1
        if self.peek() == "^":
            self.at += 1
        if self.peek() == "]":
            self.at += 1
        while self.peek() not in ("]", ""):
            char = self.peek()
            if char == "[":
                raise self.refuse("'[' inside a class (POSIX classes like [[:alpha:]]): escape it")
            if char == "\\":
                self.escape()
            else:
                self.atom_in_class(char)
        if not self.peek():
            raise self.refuse(f"the class opened at {start} is not closed")
        self.at += 1
        source = self.pattern[start : self.at]
        if any(pair in source for pair in ("--", "&&", "~~", "||")):
            raise self.refuse("a class may not hold --, &&, ~~ or ||: escape one of the two")
        return source

    def atom_in_class(self, char: str) -> None:
        if ord(char) > 0xFFFF:
            raise self.refuse("characters past U+FFFF are not supported; match them with .")
        self.at += 1

    def group(self) -> _Item:
        start = self.at
        self.at += 1
        if self.peek() == "?":
            if self.pattern[self.at : self.at + 2] != "?:":
                raise self.refuse("only (...) and (?:...) groups: no look-arounds, flags or names")
            self.at += 2
        branches = self.alternatives()
        if self.peek() != ")":
            raise self.refuse(f"the group opened at {start} is not closed")
        self.at += 1
        if self.repeat_follows():
            raise self.refuse(
                "a repetition applies to one character, class or '.': a repeated group (like "
                "(a+)+ or (a|aa)+) can take exponential time; write it without nesting"
            )
        items = [item for branch in branches for item in branch]
        if any(item.repeat and item.choice for item in items):
            raise self.refuse(
                "a repetition inside a group (like (a+) or (a|b+)) can take exponential time; "
                "repeat outside groups"
            )
        chars = 0
        for item in items:
            chars |= item.chars
        text = self.pattern[start : self.at]
        optional = any(all(item.optional for item in branch) for branch in branches)
        return _Item(text, chars, choice=len(branches) > 1 or "|" in text, optional=optional)

    def repeat_follows(self) -> bool:
        return _QUANTIFIER.match(self.pattern, self.at) is not None

    def repeated(self, item: _Item) -> _Item:
        quantifier = _QUANTIFIER.match(self.pattern, self.at)
        if quantifier is None:
            return item
        self.at = quantifier.end()
        low, high = _counts(quantifier)
        if max(low, high or 0) > MAX_REPEAT_COUNT:
            raise self.refuse(f"a count is at most {MAX_REPEAT_COUNT}")
        if self.peek() == "?":
            self.at += 1  # lazy: the same choices, taken in another order
        elif self.peek() == "+" or self.repeat_follows():
            raise self.refuse("repeat a repetition only once (no a** or possessive a*+)")
        text = item.text + self.pattern[quantifier.start() : self.at]
        return _Item(text, item.chars, choice=low != high, optional=low == 0, repeat=True)


def _counts(quantifier: re.Match[str]) -> tuple[int, int | None]:
    """(least, most) of a quantifier; most is None when unbounded."""
    if quantifier.group(1) is None:
        return {"*": (0, None), "+": (1, None), "?": (0, 1)}[quantifier.group(0)]
    low = int(quantifier.group(1))
    if quantifier.group(2) is None:
        return low, low
    return low, int(quantifier.group(3)) if quantifier.group(3) else None


def _overlapping(items: list[_Item]) -> tuple[_Item, _Item] | None:
    """Two choices that can take the same text with only that text between them."""
    choices = [index for index, item in enumerate(items) if item.choice]
    for position, first in enumerate(choices):
        for second in choices[position + 1 :]:
            if second == len(items) - 1:
                continue  # the last item: reaching it ends the match, nothing backtracks
            if items[first].text == _START and not items[second].repeat:
                continue  # an alternation is tried a bounded number of ways at each start
            common = items[first].chars & items[second].chars
            between = items[first + 1 : second]
            if common and all(item.optional or item.chars & common for item in between):
                return items[first], items[second]
    return None


def bounded_regex(pattern: str) -> str:
    """`pattern` when the store can run it in time linear in the text; InvalidArgument says
    what to change otherwise. Every query also runs under BUCKETD_QUERY_TIMEOUT_SECONDS."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)  # a "possible nested set"
            re.compile(pattern)
    except (re.error, OverflowError, FutureWarning) as error:
        raise InvalidArgument(f"filters: invalid regex {pattern!r}: {error}") from None
    parser = _Parser(pattern)
    branches = parser.alternatives()
    if parser.peek() == ")":
        raise parser.refuse(f"the ')' at {parser.at} closes no group")
    for branch in branches:
        anchored = bool(branch) and branch[0].text in ("^", "\\A")
        start = [] if anchored else [_Item(_START, _EVERY, True)]
        clash = _overlapping([*start, *branch])
        if clash is not None:
            first, second = clash
            raise parser.refuse(
                f"{first.text} and {second.text} can match the same text, which can take "
                "polynomial (and with more, exponential) time: separate them by a character "
                "neither matches, or anchor the pattern with ^"
            )
    return pattern
