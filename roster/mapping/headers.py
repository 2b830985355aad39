"""Header reading: which concept a header names, in which language, and how sure we are.

Matching works on tokens (see normalize.py). Rules that keep it general rather than a list of
known exports:
  * the *head* of a header decides (English/German put it last: "Default Address City" is a
    city, "Company Size" is not a company); a match that is not at the head is ignored;
  * "name"/"number"-like words after a concept do not change it ("Company Name" is the company);
  * a header whose head is an identifier word ("Customer ID", "Kundennummer") names an id;
  * very short or generic words ("name", "first", "org", 名) only count when they are the whole
    header, so "Last Login" is not a last name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from . import synonyms as S
from .normalize import fold, is_cjk, squash, tokens

# Generic words that must be the entire (meaningful) header to count.
EXACT_ONLY = {
    "name",
    "first",
    "last",
    "org",
    "tel",
    "web",
    "site",
    "job",
    "account",
    "land",
    "cp",
    "uf",
    "nom",
    "nome",
    "nombre",
    "mail",
    "ort",
    "staat",
    "region",
    "position",
    "title",
    "role",
    "sex",
    "package",
    "offre",
    "baja",
    "accepts",
    "consent",
    "marketing",
    "subscription",
    "post",
    "text",
    "rue",
    "calle",
    "rua",
    "lang",
    "state",
    "tag",
    "estado",
    "etat",
    "titre",
    "titel",
    "paket",
    "pagina",
    "tier",
    "plan",
    "blocked",
    "permission",
    "agreed",
    "inscrit",
    "abonne",
    "inscrito",
    "aceita",
    "acepta",
    "accepte",
    "funktion",
    "fonction",
    "mobile",
    "cell",
    "county",
    "addr",
    "mel",
}
# Words that may follow a concept without changing it ("Company Name", "Phone Number", "Country ISO").
NEUTRAL_TAIL = {"name", "names", "nombre", "nom", "nome", "namen", "number", "iso", "名", "名前", "text", "value"}
# "X de Y": in Spanish, French and Portuguese the first word is the head.
ROMANCE_OF = {"de", "del", "da", "do", "dos", "das", "du", "des", "d"}
_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]|（[^）]*）|【[^】]*】")


@dataclass(frozen=True)
class Match:
    concept: str
    language: str
    phrase: str
    start: int  # token span in the meaningful tokens
    end: int
    partial: bool  # matched inside a compound word ("Telefonnummer" ~ "telefon")


@dataclass
class HeaderInfo:
    header: str
    words: list[str]  # meaningful tokens (fillers and parenthesised notes removed)
    matches: list[Match] = field(default_factory=list)
    head: Match | None = None  # the concept the header names, if any
    id_like: bool = False  # the head is an identifier word


@cache
def _phrases(table_name: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(concept, language(s), phrase, phrase tokens) for one vocabulary table."""
    tables = {"core": S.CORE, "property": S.PROPERTY_CONCEPTS, "optout": {"optout": S.OPT_OUT}, "optin": {"optin": S.OPT_IN}}[
        table_name
    ]
    merged: dict[tuple[str, tuple[str, ...]], tuple[list[str], str]] = {}
    for concept, langs in tables.items():
        for lang, phrase in S.phrase_list(langs):
            toks = tuple(t for t in tokens(phrase) if t not in S.FILLERS) or tuple(tokens(phrase))
            if toks:  # one phrase shared by languages ("empresa") is reported as "Spanish/Portuguese"
                entry = merged.setdefault((concept, toks), ([], phrase))
                if lang not in entry[0]:
                    entry[0].append(lang)
    return [(concept, "/".join(langs), phrase, toks) for (concept, toks), (langs, phrase) in merged.items()]


def spell_out(toks: list[str]) -> list[str]:
    """Name headers as exports shorten them, spelled out: "FirstNm" -> first name, "L_Name" ->
    last name, "NAME_LAST" -> last name, "fn" -> first name (before fillers drop the "l")."""
    if len(toks) == 1 and toks[0] in S.NAME_PART_INITIALS:
        return list(S.NAME_PART_INITIALS[toks[0]])
    out = [S.ABBREVIATIONS.get(t, t) for t in toks]
    for i, t in enumerate(out):
        if t in S.NAME_INITIALS and i + 1 < len(out) and out[i + 1] == "name":
            out[i] = S.NAME_INITIALS[t]
        elif t == "n" and i > 0 and out[i - 1] in ("first", "last", "given", "family"):
            out[i] = "name"
    if len(out) == 2 and out[0] == "name" and out[1] in ("first", "last", "given", "family"):
        out = [out[1], "name"]  # "NAME_LAST": the part comes last in some database exports
    return out


def meaningful_words(header: str) -> list[str]:
    stripped = _PARENS.sub(" ", header)
    toks = spell_out(tokens(stripped) or tokens(header))
    words = [t for t in toks if t not in S.FILLERS]
    return words or toks


def find_matches(words: list[str], table_name: str, anywhere: bool = False) -> list[Match]:
    """Phrases of one table found in the words; `anywhere` lifts the whole-header rule for generic words."""
    squashed = "".join(words)
    out: list[Match] = []
    for concept, lang, phrase, ptoks in _phrases(table_name):
        pjoined = "".join(ptoks)
        if is_cjk(pjoined):
            if len(pjoined) == 1 and not anywhere:
                hits = [i for i, w in enumerate(words) if w == pjoined]
                out += [Match(concept, lang, phrase, i, i + 1, False) for i in hits[:1]]
            else:
                for i, w in enumerate(words):
                    if pjoined in w:
                        out.append(Match(concept, lang, phrase, i, i + 1, w != pjoined))
                        break
            continue
        if not anywhere and (pjoined in EXACT_ONLY or (len(ptoks) == 1 and ptoks[0] in EXACT_ONLY)):
            if list(ptoks) == words or pjoined == squashed:
                out.append(Match(concept, lang, phrase, 0, len(words), False))
            continue
        n = len(ptoks)
        found = False
        for i in range(len(words) - n + 1):
            if tuple(words[i : i + n]) == ptoks:
                out.append(Match(concept, lang, phrase, i, i + n, False))
                found = True
                break
        if found:
            continue
        if pjoined == squashed:  # "FIRSTNAME", "EmailAddress" written without separators
            out.append(Match(concept, lang, phrase, 0, len(words), False))
            continue
        for i, w in enumerate(words):  # compound words: "emailadresse", "kundenname", "telefonnummer"
            if w == pjoined:
                out.append(Match(concept, lang, phrase, i, i + 1, False))
                break
            if len(pjoined) >= 4 and len(w) > len(pjoined) and (w.startswith(pjoined) or w.endswith(pjoined)):
                out.append(Match(concept, lang, phrase, i, i + 1, True))
                break
    return out


def _best_at_head(words: list[str], matches: list[Match], romance_head: bool = False) -> Match | None:
    """The match that covers the head of the header, preferring the longest phrase.

    romance_head: the header reads "X de Y" (Spanish/French/Portuguese put the head first:
    "Ciudad de envío" is a city).
    """
    if not matches:
        return None
    last = len(words)
    while (
        last > 1
        and (words[last - 1] in NEUTRAL_TAIL or words[last - 1].isdigit())
        and not any(m.end == last for m in matches if m.phrase not in NEUTRAL_TAIL)
    ):
        last -= 1
    at_head = [m for m in matches if m.end == last]
    if not at_head:
        return None if not romance_head else _best_at_head(words[:1], [m for m in matches if m.end == 1])
    return max(at_head, key=lambda m: (m.end - m.start, not m.partial, len(squash(m.phrase))))


def _is_id_word(word: str) -> bool:
    return word in S.ID_WORDS or any(word.endswith(w) and len(word) > len(w) for w in S.ID_WORDS if len(w) >= 4)


def analyze(header: str) -> HeaderInfo:
    words = meaningful_words(header)
    info = HeaderInfo(header=header, words=words)
    info.matches = find_matches(words, "core") + find_matches(words, "property")
    raw = tokens(_PARENS.sub(" ", header)) or tokens(header)
    romance = len(raw) > 2 and raw[1] in ROMANCE_OF
    head = _best_at_head(words, info.matches, romance)
    # An identifier at the head ("Customer ID", "Company Code") wins unless a phrase covers it
    # ("Postal Code", "Phone No").
    if words and _is_id_word(words[-1]) and not (head and head.end == len(words)):
        info.id_like = True
        head = None
    # ("Nombre de la empresa" needs no special case: "nombre" alone only counts as a whole header,
    # so the company at the head wins.)
    info.head = head
    return info


def consent_polarity(header: str) -> tuple[str | None, Match | None, bool]:
    """("optout" | "optin" | None, the match, about another channel such as SMS).

    Looks anywhere in the header, not only at the head: "Email Opt Out Date" still mentions
    opting out; whether the column is a yes/no flag is decided by its values.
    """
    words = meaningful_words(header)
    all_words = tokens(header)
    other_channel = any(w in S.OTHER_CHANNELS for w in all_words) or any(c in fold(header) for c in S.OTHER_CHANNELS if is_cjk(c))
    negated = any(w in S.NEGATIONS for w in all_words)
    out = find_matches(words, "optout", anywhere=True)
    if out:
        m = max(out, key=lambda m: m.end - m.start)
        return "optout", m, other_channel
    inn = find_matches(words, "optin", anywhere=True)
    if inn:
        m = max(inn, key=lambda m: m.end - m.start)
        return ("optout" if negated else "optin"), m, other_channel
    return None, None, other_channel


def describe(m: Match, header: str) -> str:
    label = m.concept.replace("_", " ")
    if squash(m.phrase) == squash(header) or fold(m.phrase).lower() == fold(header).lower():
        return f"header '{header}' is the {m.language} term for {label}"
    toks = tokens(header)
    spelled = spell_out(toks)
    if spelled != toks and not m.partial and "".join(spelled) == squash(m.phrase):
        return f"header '{header}' is short for '{m.phrase}', the {m.language} term for {label}"
    if m.partial:
        return f"header '{header}' contains the {m.language} word '{m.phrase}' ({label})"
    return f"header '{header}' contains the {m.language} term '{m.phrase}' for {label}"
