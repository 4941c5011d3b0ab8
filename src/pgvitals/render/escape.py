"""Make control characters in names visible, so that no object name can act on a terminal
or a document.

A table may be named `"clear\\x1b[2Jscreen"` or `"title\\x1b]0;PWNED\\x07"`: printed raw,
the escape sequence clears the screen or retitles the window, and a report file shown
with `cat` does the same. Every human-facing renderer (text, Markdown, HTML)
passes names, messages and evidence through `visible`; JSON and SARIF keep the exact
name, JSON's own escaping (`\\u001b`) makes it inert.

A backslash is left as it is: `a\\x1bb` typed with a real backslash then looks like a
name with an escape character, but doubling every backslash would garble index
expressions and regular expressions in evidence, and the JSON report has the exact name.
"""

from __future__ import annotations

import re

# C0 controls (ESC, BEL, CR, ...), DEL and C1 controls (CSI U+009B acts like ESC [ in some
# terminals), plus the characters that reorder or split displayed text: bidirectional
# embeddings, overrides and isolates, and the Unicode line and paragraph separators.
_CONTROLS_BUT_NEWLINE = r"\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_INVISIBLE = re.compile(rf"[\n{_CONTROLS_BUT_NEWLINE}]")
_INVISIBLE_BUT_NEWLINE = re.compile(rf"[{_CONTROLS_BUT_NEWLINE}]")


def _escaped(match: re.Match[str]) -> str:
    code_point = ord(match.group())
    return f"\\x{code_point:02x}" if code_point < 0x100 else f"\\u{code_point:04x}"


def visible(text: str, keep_newlines: bool = False) -> str:
    """`text` with every control character written as `\\x1b` (or `\\u202e`).

    `keep_newlines`: for text whose lines are meant (SQL, a multi-line comment); a name
    or a message is one line, so its newline is shown as `\\x0a` too."""
    pattern = _INVISIBLE_BUT_NEWLINE if keep_newlines else _INVISIBLE
    return pattern.sub(_escaped, text)


def visible_value(value: object) -> object:
    """For a Jinja environment's `finalize`: every `{{ ... }}` a template outputs goes
    through `visible` (newlines kept: the template's filters fold what must be one line).
    Already-safe markup (anything with `__html__`, as an HTML renderer's filters return)
    is left alone, so autoescaping does not escape it twice."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return visible(value, keep_newlines=True)
    return value
