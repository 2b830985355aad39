"""Value-shape detection: what a sample of cell values looks like, independent of the header.

A header can lie or be vague ("Contact", "CC"); the values rarely do. Each share below is the
fraction of *non-empty* sample values having that shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from schemas import rules

LEADING_ZERO = re.compile(r"^[+-]?0\d")
DATE = re.compile(
    r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{4}年\d{1,2}月\d{1,2}日)"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2}|UTC|[AaPp][Mm])?)?$"
)
PHONE = re.compile(r"^(\+|00)?[\d\s().\-/]{6,}$")
IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")

# What is an email, a number, a yes/no or status word is schemas/rules.py's to say: a column the
# engines map is then a column the importer's validator takes.
is_email, is_number = rules.is_email, rules.is_number
parse_bool, parse_subscription_status = rules.yes_no, rules.subscription_status

# Words that are only booleans in context: a column of just these is a yes/no flag.
SINGLE_LETTERS = {"t", "f", "y", "n", "j", "s", "x"}

ISO_COUNTRIES = set(
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW "
    "BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI "
    "FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN "
    "IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME "
    "MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF "
    "PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV "
    "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE "
    "YT ZA ZM ZW UK EU".split()
)


@dataclass(frozen=True)
class ValueProfile:
    total: int  # sample size, empty cells included
    nonempty: int
    email: float
    boolean: float  # parses as a yes/no value
    boolean_words: bool  # at least one yes/no *word* (not just 0/1), so not a count
    numeric: float
    leading_zero: bool  # "01234": a code, not a quantity
    same_length_ints: bool  # every value an integer of the same, long length: looks like an id
    date: float
    phone: float
    multiword: float  # several words: a full name rather than a first or last name
    country_code: float
    ip: float
    distinct: int
    subscription_status: float  # "subscribed"/"unsubscribed"-style status words
    amount: float = 0.0  # numbers written as amounts ("$1,234.50", "1.234,50 €"), counted in `numeric` too

    @property
    def empty(self) -> bool:
        return self.nonempty == 0


def _share(values: list[str], test: Callable[[str], object]) -> float:
    return sum(1 for v in values if test(v)) / len(values) if values else 0.0


def profile(values: list[str]) -> ValueProfile:
    vals = [v.strip() for v in values if v is not None and v.strip() != ""]
    folded = {rules.fold_word(v) for v in vals}
    ints = [v for v in vals if v.isdigit()]
    same_len = len(vals) >= 3 and len(ints) == len(vals) and len({len(v) for v in ints}) == 1 and len(ints[0]) >= 5
    bool_share = _share(vals, lambda v: parse_bool(v) is not None)
    # "s"/"n"/"x" alone could be anything; count them as yes/no words only with a partner value.
    words = {w for w in folded if (w in rules.YES_WORDS or w in rules.NO_WORDS) and w not in {"0", "1"}}
    boolean_words = bool(words) and (not words <= SINGLE_LETTERS or len(words) >= 2 or words <= {"x"})
    return ValueProfile(
        total=len(values),
        nonempty=len(vals),
        email=_share(vals, is_email),
        boolean=bool_share,
        boolean_words=boolean_words,
        numeric=_share(vals, lambda v: is_number(v) or (not IPV4.match(v) and rules.plain_number(v) is not None)),
        amount=_share(vals, lambda v: not is_number(v) and not IPV4.match(v) and rules.plain_number(v) is not None),
        leading_zero=any(LEADING_ZERO.match(v) for v in vals),
        same_length_ints=same_len,
        date=_share(vals, lambda v: bool(DATE.match(v))),
        phone=_share(
            vals, lambda v: bool(PHONE.match(v)) and sum(c.isdigit() for c in v) >= 7 and not DATE.match(v) and not IPV4.match(v)
        ),
        multiword=_share(vals, lambda v: len(v.split()) >= 2),
        country_code=_share(vals, lambda v: v.upper() in ISO_COUNTRIES and len(v) == 2 and v.isalpha()),
        ip=_share(vals, lambda v: bool(IPV4.match(v))),
        distinct=len(folded),
        subscription_status=_share(vals, lambda v: parse_subscription_status(v) is not None),
    )


def looks_like_names(p: ValueProfile) -> bool:
    """Plausible person names: not addresses, numbers, dates or yes/no flags."""
    return p.empty or (
        p.email < 0.2 and p.numeric < 0.2 and p.date < 0.2 and p.phone < 0.2 and not (p.boolean > 0.9 and p.boolean_words)
    )


def infer_type(p: ValueProfile, *, code_like: bool = False, flag_like: bool = False) -> tuple[str, str]:
    """(type, why) for a new property.

    code_like: the header says identifier / postal code / phone, so digits are not a quantity.
    flag_like: the header reads like a yes/no question, so a 0/1 column is a flag, not a count.
    """
    if p.empty:
        return "string", "no values in the sample, kept as text"
    if p.boolean >= 0.95 and (p.boolean_words or flag_like) and p.distinct <= 4:
        return "boolean", "values are yes/no"
    if p.numeric >= 0.98:
        if p.leading_zero:
            return "string", "digits with leading zeros are a code, kept as text"
        if code_like:
            return "string", "numeric-looking identifier/code, kept as text"
        if p.same_length_ints:
            return "string", "same-length long integers look like identifiers, kept as text"
        if p.amount > 0:
            return "number", "values are amounts (currency signs, thousands separators), read as numbers"
        return "number", "values are numbers"
    if p.ip >= 0.8:
        return "string", "values are IP addresses, kept as text"
    if p.date >= 0.8:
        return "string", "values are dates, kept as text"
    return "string", "values are text"
