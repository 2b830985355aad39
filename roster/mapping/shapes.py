"""A value's shape, in words, so a column can be described without giving its values away.

"ada@example.com" -> "email-like", "01234" -> "digits(5) leading zero", "Yes" -> "yes/no",
"Lovelace" -> "text(8)". Used when the team does not share sample values with the model.
"""

from __future__ import annotations

import re
from collections import Counter

from .values import DATE, IPV4, PHONE, is_email, is_number, parse_bool, parse_subscription_status

URL = re.compile(r"^(https?://|www\.)\S+$", re.IGNORECASE)


def shape(value: str) -> str:
    v = value.strip()
    if not v:
        return "empty"
    if is_email(v):
        return "email-like"
    if URL.match(v):
        return "url"
    if parse_bool(v) is not None and not v.isdigit():
        return "yes/no"
    if v in ("0", "1"):
        return "0/1"
    if parse_subscription_status(v) is not None:
        return "subscribed/unsubscribed status"
    if DATE.match(v):
        return "date"
    if IPV4.match(v):
        return "ip address"
    if v.isdigit():
        return f"digits({len(v)})" + (" leading zero" if len(v) > 1 and v[0] == "0" else "")
    if is_number(v):
        return "decimal number"
    if PHONE.match(v) and sum(c.isdigit() for c in v) >= 7:
        return "phone-like"
    if len(v) == 2 and v.isalpha() and v.isupper():
        return "two capital letters"
    words = len(v.split())
    kind = "text" if words == 1 else f"text {words} words"
    return f"{kind}({len(v)})"


def describe_values(values: list[str], limit: int = 4) -> list[str]:
    """The most common shapes of a column's sample, e.g. ["email-like x5"]; never the values."""
    counts = Counter(shape(v) for v in values if v is not None and str(v).strip())
    return [f"{s} x{n}" if n > 1 else s for s, n in counts.most_common(limit)]
