"""Header normalisation: turn any spelling of a header into comparable tokens.

Exports name the same thing many ways ("E-Mail Address", "emailAddress", "EMAIL_ADDR",
"Correo electrónico", "メールアドレス"). Everything downstream compares *tokens* (lower-case,
accent-free words) or the *squashed* form (tokens glued together), never raw headers.
"""

from __future__ import annotations

import re

from schemas.rules import fold as fold  # the one folding rule; re-exported for the engines

# camelCase / PascalCase / ACRONYMWord boundaries, and letter<->digit boundaries.
_CAMEL = [
    (re.compile(r"([a-z])([A-Z])"), r"\1 \2"),
    (re.compile(r"([A-Z]+)([A-Z][a-z])"), r"\1 \2"),
    (re.compile(r"([A-Za-z])([0-9])"), r"\1 \2"),
    (re.compile(r"([0-9])([A-Za-z])"), r"\1 \2"),
]
# A token is a run of ASCII letters/digits or a run of CJK/kana characters; everything else separates.
_TOKEN = re.compile(r"[a-z0-9]+|[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u30fc]+")


def tokens(header: str) -> list[str]:
    """Lower-case, accent-free words of a header, splitting camelCase, snake_case and punctuation."""
    text = fold(header)
    for pattern, repl in _CAMEL:
        text = pattern.sub(repl, text)
    return _TOKEN.findall(text.lower())


def squash(header: str) -> str:
    """Tokens glued together: "First Name", "first_name", "FIRSTNAME" all give "firstname"."""
    return "".join(tokens(header))


def is_cjk(text: str) -> bool:
    return any("\u3040" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def to_key(header: str, max_len: int = 50) -> str:
    """A property key matching ^[A-Za-z0-9_]{1,50}$: snake_case ASCII derived from the header.

    Returns "" when nothing ASCII survives (e.g. a purely Japanese header); the caller then
    picks a fallback name.
    """
    words = [t for t in tokens(header) if t.isascii()]
    key = "_".join(words)[:max_len].strip("_")
    return key
