"""The offline engine: header meaning + value shapes -> one Suggestion per column.

Each column gets a ranked list of candidate targets, each with a confidence and a reason. A
global greedy pass then hands out the single-use targets (email, first_name, last_name,
unsubscribed, each existing property) to the most confident claimant; every other column falls
back to its own best remaining choice (usually a new property), so the result never maps two
columns onto one field.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import cast

from schemas.rules import CORE_FIELDS, STANDARD_FIELDS

from . import synonyms as S
from .headers import HeaderInfo, Match, analyze, consent_polarity, describe
from .models import ExistingProperty, Suggestion
from .normalize import squash, to_key, tokens
from .system_columns import ERROR_COLUMN, is_error_column, system_column, tools_of
from .values import ValueProfile, infer_type, looks_like_names, profile

KEY_RE = re.compile(r"^[A-Za-z0-9_]{1,50}$")


@dataclass
class Candidate:
    target: str  # email | first_name | last_name | unsubscribed | property | ignore
    confidence: float
    reason: str
    key: str | None = None  # existing property key (target == "property", not new)
    ptype: str | None = None
    invert: bool = False
    new_key: str | None = None  # preferred key for a new property

    @property
    def slot(self) -> str | None:
        """The single-use field this candidate occupies, if any."""
        if self.target in STANDARD_FIELDS:
            return self.target
        if self.target == "property" and self.key is not None:
            return "property:" + self.key
        return None


def _new_key_hint(header: str, concept: str | None, index: int) -> str:
    key = to_key(header)
    if not key and concept:  # e.g. a Japanese header: name the property after its concept
        key = concept
    return key if KEY_RE.match(key or "") else f"column_{index + 1}"


def _coverage(info: HeaderInfo) -> float:
    if not info.head:
        return 0.0
    whole = len("".join(info.words)) or 1
    return min(1.0, len("".join(tokens(info.head.phrase))) / whole)


def _existing_candidates(
    header: str, info: HeaderInfo, prof: ValueProfile, concept: str | None, existing: list[ExistingProperty]
) -> list[Candidate]:
    out = []
    hsq = squash(header)
    words = info.words
    for prop in existing:
        ksq = squash(prop.key)
        ktoks = [t for t in tokens(prop.key) if t not in S.FILLERS] or tokens(prop.key)
        kinfo = analyze(prop.key)
        kconcept = kinfo.head.concept if kinfo.head else None
        score, why = 0.0, ""
        if hsq and (hsq == ksq or "".join(words) == ksq):
            score, why = 0.97, f"header '{header}' is the existing property '{prop.key}'"
        elif not info.id_like and concept and concept == kconcept:
            score = 0.9
            why = f"{describe(cast(Match, info.head), header)}, like the existing property '{prop.key}'"
        elif (
            not info.id_like
            and len(words) >= len(ktoks)
            and words[-len(ktoks) :] == ktoks
            and not (concept and kconcept and concept != kconcept)
        ):
            # "Lead Source" -> "source"; but "Company Name" is not the property "name".
            score, why = 0.85, f"header '{header}' ends with the existing property name '{prop.key}'"
        else:
            ratio = difflib.SequenceMatcher(None, hsq, ksq).ratio() if hsq and ksq else 0.0
            if ratio >= 0.85 and min(len(hsq), len(ksq)) >= 4:
                score, why = 0.8 * ratio, f"header '{header}' is spelled like the existing property '{prop.key}'"
            elif (
                concept is None and not info.id_like and kconcept == "country" and prof.nonempty >= 3 and prof.country_code >= 0.9
            ):
                score, why = 0.75, f"values of '{header}' are ISO country codes, like the existing property '{prop.key}'"
        if score <= 0:
            continue
        # The team's property has a type; values that do not fit it make the match less likely.
        if prop.type == "number" and not prof.empty and prof.numeric < 0.9:
            score, why = score * 0.6, why + " (but values are not numbers)"
        if prop.type == "boolean" and not prof.empty and prof.boolean < 0.9:
            score, why = score * 0.6, why + " (but values are not yes/no)"
        if score >= 0.5:
            out.append(Candidate("property", round(score, 3), why, key=prop.key, ptype=prop.type))
    return out


@dataclass(frozen=True)
class FileContext:
    """What the other headers of the file say about one column."""

    tools: frozenset[str] = frozenset()  # the tools the file is plainly an export of
    has_country: bool = False  # another header names a country


def _file_context(headers: list[str]) -> FileContext:
    concepts = {(head.concept if (head := analyze(h).head) else None) for h in headers}
    return FileContext(frozenset(tools_of(headers)), "country" in concepts)


def _column_candidates(
    header: str, index: int, values: list[str], existing: list[ExistingProperty], context: FileContext = FileContext()
) -> tuple[list[Candidate], Candidate]:
    """(ranked candidates, fallback used when all of them are taken)."""
    if is_error_column(header):
        return [], Candidate("ignore", 1.0, f"'{ERROR_COLUMN}' is the reason Roster gave in a failed-rows download: left out")
    prof = profile(values)
    info = analyze(header)
    concept = info.head.concept if info.head else None
    head = cast(Match, info.head)  # described only where `concept` is set, that is where there is a head
    polarity, consent_match, other_channel = consent_polarity(header)
    flag_like = bool(polarity) or any(w in S.FLAG_WORDS for w in tokens(header))
    code_like = info.id_like or concept in S.STRING_CONCEPTS or prof.phone >= 0.8 or prof.ip >= 0.8
    ptype, type_why = infer_type(prof, code_like=code_like, flag_like=flag_like)
    new_key = _new_key_hint(header, concept, index)
    cands: list[Candidate] = []

    if not header.strip() and prof.empty:
        return [], Candidate("ignore", 0.9, "column has neither a header nor values")

    # 0. The exporting tool's own bookkeeping (ids, logged IPs, offsets, internal timestamps,
    # ratings), known by name: left out, unless the team already has a property of exactly that
    # name. (An IP column by values alone, "Last IP", may be the team's own data: kept.)
    tool_column = system_column(header, context.tools)
    if tool_column is not None:
        exact = [c for c in _existing_candidates(header, info, prof, None, existing) if c.confidence >= 0.97]
        return exact, Candidate("ignore", 0.9, tool_column.reason(header))

    def new_prop(conf: float, reason: str, t: str | None = None) -> Candidate:
        return Candidate("property", conf, reason, ptype=t or ptype, new_key=new_key)

    # 1. Values that are email addresses decide, whatever the header says ("Contact").
    if prof.nonempty and prof.email >= 0.8:
        if concept == "email":
            cands.append(
                Candidate(
                    "email",
                    round(0.9 + 0.09 * _coverage(info), 3),
                    f"{describe(head, header)}, and the values are email addresses",
                )
            )
        else:
            cands.append(Candidate("email", 0.85, f"values of '{header}' are email addresses"))
        cands += _existing_candidates(header, info, prof, concept, existing)
        return cands, new_prop(
            0.6, "email addresses, but another column is the contact's email; kept as a new text property", "string"
        )

    # 2. Consent flags: unsubscribed, or its opposite (opt-in) which must be inverted.
    if polarity and (prof.boolean >= 0.9 or prof.empty):
        sure = 1.0 if not prof.empty else 0.65
        phrase = f"'{cast(Match, consent_match).phrase}' ({cast(Match, consent_match).language})"
        if other_channel:
            reason = f"header '{header}' is consent for another channel than email ({phrase}); a yes/no property"
            cands += _existing_candidates(header, info, prof, concept, existing)
            return cands, new_prop(0.85, reason, "boolean")
        if polarity == "optout":
            cands.append(Candidate("unsubscribed", round(0.96 * sure, 3), f"header '{header}' means opted out of email {phrase}"))
        elif set(tokens(cast(Match, consent_match).phrase)) <= S.AMBIGUOUS_CONSENT:
            cands.append(
                Candidate(
                    "unsubscribed",
                    round(0.8 * sure, 3),
                    f"header '{header}' is about consent {phrase} without saying which way: "
                    f"read as opted in (yes = may be emailed), so mapped to unsubscribed with "
                    f"values inverted; check that yes means agreed",
                    invert=True,
                )
            )
        else:
            cands.append(
                Candidate(
                    "unsubscribed",
                    round(0.9 * sure, 3),
                    f"header '{header}' means opted in {phrase}: mapped to unsubscribed with values inverted",
                    invert=True,
                )
            )
        cands += _existing_candidates(header, info, prof, concept, existing)
        return cands, new_prop(
            0.7, f"consent flag '{header}' kept as a yes/no property (unsubscribed is taken by another column)", "boolean"
        )

    # 2b. Subscription status words ("SUBSCRIBED", "NEVER_SUBSCRIBED"): the values say "receives
    # email", whatever the header, so unsubscribed is their inverse.
    if prof.nonempty and prof.subscription_status >= 0.9 and prof.boolean < 0.5:
        if other_channel:
            return [], new_prop(
                0.75, f"'{header}' is a subscription status for another channel than email; kept as a text property", "string"
            )
        cands.append(
            Candidate(
                "unsubscribed",
                0.85,
                f"values of '{header}' are subscription statuses (subscribed/unsubscribed): mapped to unsubscribed, inverted",
                invert=True,
            )
        )
        cands += _existing_candidates(header, info, prof, concept, existing)
        return cands, new_prop(
            0.6, f"subscription status '{header}' kept as a text property (unsubscribed is taken by another column)", "string"
        )

    # 3. A bare "Name"/"Nombre"/"Nom": one word per value is a name part, several a full name.
    if len(info.words) == 1 and info.words[0] in S.AMBIGUOUS_NAME and looks_like_names(prof):
        part = S.AMBIGUOUS_NAME[info.words[0]]
        if prof.multiword >= 0.5:
            concept = "full_name"
        else:
            cands.append(Candidate(part, 0.8, f"header '{header}' holds single names, read as {part.replace('_', ' ')}"))

    # 4. Header names a contact field.
    if concept == "email" and (prof.empty or prof.email >= 0.3):
        cands.append(Candidate("email", 0.7 if prof.empty else 0.8, describe(head, header)))
    elif concept in ("first_name", "last_name") and looks_like_names(prof):
        cands.append(Candidate(concept, round(0.85 + 0.12 * _coverage(info), 3), describe(head, header)))

    if concept not in CORE_FIELDS:
        cands += _existing_candidates(header, info, prof, concept, existing)

    # 5. Otherwise a new property named after the header.
    if concept is None and not info.id_like and prof.nonempty >= 3 and prof.country_code >= 0.9 and not context.has_country:
        # "CC" in a Mailchimp export: two-letter country codes are the contact's country.
        country = Candidate(
            "property", 0.8, f"values of '{header}' are ISO country codes: a new text property 'country'", ptype="string"
        )
        country.new_key = "country"
        fb = country
    elif concept == "full_name":
        fb = new_prop(
            0.75, f"header '{header}' is a full name (not split into first/last); kept as a new text property", "string"
        )
    elif concept in S.STRING_CONCEPTS:
        fb = new_prop(0.75, f"{describe(head, header)}; no such existing property, so a new text property", "string")
    elif concept and concept not in CORE_FIELDS:
        fb = new_prop(0.72, f"{describe(head, header)}; no such existing property, so a new {ptype} property ({type_why})")
    elif info.id_like:
        fb = new_prop(0.6, f"header '{header}' is an identifier; kept as a new text property", "string")
    else:
        fb = new_prop(0.6 if not prof.empty else 0.4, f"no contact field matches '{header}'; new {ptype} property ({type_why})")
    return cands, fb


def _assign(all_cands: list[list[Candidate]], fallbacks: list[Candidate]) -> list[Candidate]:
    """Give each single-use field to its most confident claimant; the rest take their fallback."""
    ranked = sorted(
        ((c.confidence, -i, j, c) for i, cs in enumerate(all_cands) for j, c in enumerate(cs)),
        key=lambda t: (t[0], t[1], -t[2]),
        reverse=True,
    )
    chosen: list[Candidate | None] = [None] * len(all_cands)
    taken: set[str] = set()
    for _, neg_i, _, cand in ranked:
        i = -neg_i
        if chosen[i] is not None or (cand.slot and cand.slot in taken):
            continue
        chosen[i] = cand
        if cand.slot:
            taken.add(cand.slot)
    return [c if c is not None else fallbacks[i] for i, c in enumerate(chosen)]


def _unique_key(base: str, used: set[str]) -> str:
    base = base[:50]
    key, n = base, 2
    while key in used:
        suffix = f"_{n}"
        key, n = base[: 50 - len(suffix)] + suffix, n + 1
    used.add(key)
    return key


def suggest_offline(headers: list[str], samples: dict[str, list[str]], existing: list[ExistingProperty]) -> list[Suggestion]:
    """One Suggestion per header, in header order."""
    existing_keys = {p.key for p in existing}
    context = _file_context(headers)
    all_cands: list[list[Candidate]] = []
    fallbacks: list[Candidate] = []
    seen: set[str] = set()
    for i, h in enumerate(headers):
        if h in seen:  # a column map refers to columns by header, so a repeated header is unusable
            all_cands.append([])
            fallbacks.append(Candidate("ignore", 0.9, f"header '{h}' appears more than once; only the first is used"))
            continue
        seen.add(h)
        cands, fb = _column_candidates(h, i, list(samples.get(h, [])), existing, context)
        all_cands.append(cands)
        fallbacks.append(fb)
    chosen = _assign(all_cands, fallbacks)

    used_keys = set(existing_keys) | {c.key for c in chosen if c.key}
    out = []
    for h, c in zip(headers, chosen):
        key = c.key
        if c.target == "property" and key is None:
            key = _unique_key(c.new_key or "column", used_keys)
        is_prop = c.target == "property"
        out.append(
            Suggestion(
                column=h,
                target=c.target,
                property_key=key if is_prop else None,
                property_type=c.ptype if is_prop else None,
                is_new_property=is_prop and key not in existing_keys,
                invert=c.invert if c.target == "unsubscribed" else False,
                confidence=round(max(0.0, min(1.0, c.confidence)), 2),
                reason=c.reason,
                engine="offline",
            )
        )
    return out
