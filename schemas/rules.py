"""The data rules, in one place: what an email, a number, a yes/no word, a property key, an id is.

The row validator (schemas/rows.py), the mapping engines (roster/mapping), the API's routers and
the review CLI all ask here, so a column the mapper calls a number is one the validator imports,
and an email the API takes is one an import takes. Patterns are written so the same text works
in Python's `re` and in polars (Rust's regex).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Any, Literal, get_args

# -- contacts ------------------------------------------------------------------------------------
# The contact's own fields a column maps to; `email` is the one every import needs.
CORE_FIELDS = ("email", "first_name", "last_name")
STANDARD_FIELDS = (*CORE_FIELDS, "unsubscribed")
# Where a column of a map goes: a standard field (each at most once), a property, or nowhere.
MapTarget = Literal["email", "first_name", "last_name", "unsubscribed", "property", "ignore"]

# something@something.tld: no spaces, one @ (the raw-SQL floor's rule).
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# Longer is no address anyone can send to (RFC 5321 allows 254), and it keeps lower(email) well
# inside what the unique index can hold (2,704 bytes), so such a row fails alone, not the merge.
EMAIL_MAX_LENGTH = 320
_EMAIL = re.compile(EMAIL_PATTERN)


def is_email(value: str) -> bool:
    return len(value) <= EMAIL_MAX_LENGTH and _EMAIL.match(value) is not None


def email_problem(value: str) -> str | None:
    """Why a value is not an email Roster takes (in a person's words), or None."""
    if len(value) > EMAIL_MAX_LENGTH:
        return f"the email is longer than {EMAIL_MAX_LENGTH} characters"
    if not _EMAIL.match(value):
        return f"invalid email {value!r}"
    return None


# -- property values -----------------------------------------------------------------------------
# The types a column map may give a property. "boolean" is a yes/no column: its cells are read as
# yes/no words and stored as the strings "true" and "false", in a property of type string, since
# Resend's clients know only string and number (STORED_TYPES).
PropertyType = Literal["string", "number", "boolean"]
StoredType = Literal["string", "number"]  # a property's own type, as the API creates it
PROPERTY_TYPES: tuple[PropertyType, ...] = get_args(PropertyType)
STORED_TYPES: tuple[StoredType, ...] = get_args(StoredType)
MAP_TARGETS: tuple[MapTarget, ...] = get_args(MapTarget)


def stored_type(kind: str) -> str:
    """The type of the property a column of this kind is stored in: "boolean" (yes/no) is a string."""
    return "string" if kind == "boolean" else kind


PROPERTY_KEY_PATTERN = r"^[A-Za-z0-9_]{1,50}$"
PROPERTY_KEY = re.compile(PROPERTY_KEY_PATTERN)
PROPERTY_KEY_RULE = "use 1 to 50 letters, digits or underscores"

# A number PostgreSQL's numeric takes whatever its digits: the exponent and the length are
# bounded, so no cell can overflow the cast in the merge. ASCII digits only: `\d` would also take
# other scripts' digits ("١٢٣"), which Python and polars accept and PostgreSQL and JSON do not.
NUMBER_PATTERN = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$"
NUMBER_MAX_LENGTH = 100
_NUMBER = re.compile(NUMBER_PATTERN)


def is_number(value: str) -> bool:
    return len(value) <= NUMBER_MAX_LENGTH and _NUMBER.match(value) is not None


# Amounts as spreadsheets and shops export them: a currency symbol or code before or after,
# thousands grouped by commas, dots, spaces or apostrophes, a decimal comma ("$1,234.50",
# "1.234,50 €", "EUR 12,00", "CHF 1'234.50"). A number property reads them as the number.
_CURRENCY = re.compile(r"^(?:[A-Z]{3}|[$€£¥₹₩₽₺₪฿]|R\$|US\$|C\$|A\$|kr|zł|Fr\.?)\s*|\s*(?:[A-Z]{3}|[$€£¥₹₩₽₺₪฿]|kr|zł|Fr\.?)$")
_GROUPED = re.compile(r"^[0-9]{1,3}(?:[ ,.'\u00a0\u202f][0-9]{3})+$")


def plain_number(value: str) -> str | None:
    """The number an amount means, as plain text ("1234.50"), or None when it is not one. A plain
    number comes back as it is. One separator followed by exactly three digits groups thousands
    ("1,234" is 1234, as money is rarely written to a thousandth); otherwise it is the decimal point."""
    text = value.strip()
    if is_number(text):
        return text
    if len(text) > NUMBER_MAX_LENGTH:
        return None
    sign = ""
    if text and text[0] in "+-":
        sign, text = ("-" if text[0] == "-" else ""), text[1:].strip()
    for _ in range(2):  # a code and a symbol ("USD $1,200") at most
        text = _CURRENCY.sub("", text).strip()
    if text and text[0] in "+-" and not sign:
        sign, text = ("-" if text[0] == "-" else ""), text[1:].strip()
    if not text or not text[0].isdigit():
        return None
    seps = [(i, c) for i, c in enumerate(text) if not c.isdigit()]
    if not seps:
        return sign + text
    last_i, last = seps[-1]
    tail = text[last_i + 1 :]
    if last in ",." and len(tail) != 3 and tail.isdigit() and tail:
        whole = text[:last_i]
        if whole.isdigit() or (_GROUPED.match(whole) and last not in whole):
            digits = "".join(c for c in whole if c.isdigit())
            return sign + digits + "." + tail
        return None
    if _GROUPED.match(text) and len({c for _, c in seps}) == 1:
        return sign + "".join(c for c in text if c.isdigit())
    return None


# Yes/no words, folded (lower case, accents removed: see fold_word). Subscription statuses count
# as booleans too: true = receives email ("subscribed"), so a status column maps to unsubscribed
# with invert.
YES_WORDS = frozenset(
    {
        "true",
        "t",
        "yes",
        "y",
        "1",
        "ja",
        "j",
        "oui",
        "si",
        "sim",
        "s",
        "verdadero",
        "vrai",
        "wahr",
        "verdadeiro",
        "on",
        "x",
        "checked",
        "enabled",
        "はい",
        "有",
        "○",
        "◯",
        "済",
    }
)
NO_WORDS = frozenset(
    {
        "false",
        "f",
        "no",
        "n",
        "0",
        "nein",
        "non",
        "nao",
        "falso",
        "faux",
        "falsch",
        "off",
        "unchecked",
        "disabled",
        "いいえ",
        "無",
        "×",
        "未",
    }
)
SUBSCRIBED_WORDS = frozenset(
    {
        "subscribed",
        "opted_in",
        "opt_in",
        "optin",
        "double_opt_in",
        "abonniert",
        "angemeldet",
        "abonne",
        "inscrit",
        "suscrito",
        "inscrito",
        "購読中",
        "granted",
        "consent_given",
        "consented",
    }
)
UNSUBSCRIBED_WORDS = frozenset(
    {
        "unsubscribed",
        "never_subscribed",
        "not_subscribed",
        "non_subscribed",
        "opted_out",
        "opt_out",
        "optout",
        "suppressed",
        "cleaned",
        "blocklisted",
        "blacklisted",
        "abgemeldet",
        "desabonne",
        "desinscrit",
        "dado_de_baja",
        "baja",
        "desuscrito",
        "descadastrado",
        "配信停止",
        "解除",
        "denied",
        "withdrawn",
        "revoked",
        "consent_withdrawn",
        "consent_denied",
    }
)

# Latin letters that NFKD does not decompose into base + accent.
_LATIN_EXTRA = str.maketrans(
    {
        "ß": "ss",
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "đ": "d",
        "Đ": "D",
        "ı": "i",
        "þ": "th",
    }
)


def fold(text: str) -> str:
    """NFKC (full-width to ASCII), then accents stripped from Latin letters only.

    Accents are stripped per character below U+2000 so that Japanese kana keep their dakuten
    (NFKD would split "ド" into "ト" + a combining mark).
    """
    text = unicodedata.normalize("NFKC", text).translate(_LATIN_EXTRA)
    out = []
    for ch in text:
        if ord(ch) < 0x2000:
            ch = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(ch)
    return "".join(out)


def fold_word(value: str) -> str:
    """A cell as the word lists spell it: folded, lower case, spaces and dashes as underscores,
    no trailing full stop ("Opt-In." -> "opt_in")."""
    return re.sub(r"[\s-]+", "_", fold(value).strip().lower()).rstrip(".")


def yes_no(value: str) -> bool | None:
    """True or False for a yes/no word, else None."""
    word = fold_word(value)
    return True if word in YES_WORDS else False if word in NO_WORDS else None


def subscription_status(value: str) -> bool | None:
    """True for a "subscribed"-like status word, False for an "unsubscribed"-like one, else None."""
    word = fold_word(value)
    return True if word in SUBSCRIBED_WORDS else False if word in UNSUBSCRIBED_WORDS else None


def as_boolean(value: str) -> bool | None:
    """What a boolean column (or `unsubscribed`) reads a cell as: a yes/no word or a status word."""
    answer = yes_no(value)
    return answer if answer is not None else subscription_status(value)


def value_fits(kind: str, value: Any) -> bool:
    """A JSON value (the API's) fits a property of this type."""
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return kind == "boolean" and isinstance(value, bool)


# -- ids -----------------------------------------------------------------------------------------
def is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except (ValueError, TypeError, AttributeError):
        return False
