"""Text that identifies people (emails, display names): what is refused, and how it is shown.

Every app is told a user's email and name, and operators read them in a
terminal, so they must mean what they look like:

* **Emails** are normalised to NFKC (full-width ``ａｄａ＠example.com`` is
  ``ada@example.com``), and refused if they hold any control, format,
  private-use, unassigned or space character after that: no ESC or BEL
  sequences, no NUL or DEL, no zero-width or bidi-override characters that
  let ``ada\\u200b@example.com`` live beside ``ada@example.com``. They are
  compared case-insensitively (case-folded, then NFKC again).
* **Names** may be any script, emoji included, but not control characters
  (C0, DEL, C1), bidi controls that reorder what is around them, invisible
  characters (zero-width space, word joiner, BOM, soft hyphen), line or
  paragraph separators, or unassigned code points. The zero-width joiner and
  non-joiner stay allowed: Persian, Indic scripts and emoji sequences need them.
* :func:`for_terminal` prints whatever is stored (even data from before these
  rules) with every such character escaped, so nothing stored can retitle a
  terminal, move its cursor or erase rows of ``onebar user list``.
"""

from __future__ import annotations

import unicodedata

from .exc import ValidationError

#: Bidirectional controls: embeddings, overrides, isolates and marks.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

#: Format characters a name may hold: the joiners, and emoji tag sequences (flags).
_NAME_FORMAT_OK = frozenset("\u200c\u200d") | {chr(c) for c in range(0xE0020, 0xE0080)}


def _unsafe_in_name(ch: str) -> bool:
    category = unicodedata.category(ch)
    if ch in BIDI_CONTROLS:
        return True
    if category == "Cf":
        return ch not in _NAME_FORMAT_OK
    return category in ("Cc", "Cs", "Cn", "Zl", "Zp")


def _unsafe_in_email(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "CZ"


def clean_email(email: str) -> str:
    """The email as stored and shown: NFKC, trimmed; :class:`ValidationError` if unsafe."""
    email = unicodedata.normalize("NFKC", email).strip()
    if any(_unsafe_in_email(ch) for ch in email):
        raise ValidationError("An email address cannot hold spaces, invisible or control characters.")
    return email


def email_key(email: str) -> str:
    """The form two emails are compared in: case-folded, NFKC."""
    return unicodedata.normalize("NFKC", clean_email(email).casefold())


def check_name(name: str) -> str:
    """The name, trimmed; :class:`ValidationError` if it holds characters that hide or reorder text."""
    name = name.strip()
    if any(_unsafe_in_name(ch) for ch in name):
        raise ValidationError("Use letters, digits, punctuation and emoji only: no invisible, "
                              "control or text-direction characters.")
    return name


def for_terminal(text: str) -> str:
    """``text`` with every control, format, separator and unassigned character
    escaped (``\\x1b``, ``\\u202e``), and backslashes doubled, so it prints as
    one plain line whatever it holds."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == " " or unicodedata.category(ch)[0] not in "CZ":
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)
