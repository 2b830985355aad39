"""The model engine: one chat-completions request per file, answered in a strict JSON schema.

The model sees the headers, a few sample values per column (or, with `share_values` off, only
the values' shapes: "email-like", "digits(5) leading zero"), and the team's existing properties.
Its answer is not trusted: every item is checked against the file (the header exists), the key
rules (`^[A-Za-z0-9_]{1,50}$`), the team's properties (an existing property keeps its type), the
sample values (a "number" column must hold numbers) and the other items (one column per field).
What fails a check is dropped, and the caller fills those columns from the offline engine.

Works with any OpenAI-compatible server: `OPENAI_BASE_URL`, `OPENAI_API_KEY`, `ROSTER_OPENAI_MODEL`.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from roster.runtime.settings import Settings, get_settings
from schemas.rules import PROPERTY_TYPES, STANDARD_FIELDS

from .models import TARGETS, ExistingProperty, Suggestion
from .shapes import describe_values
from .values import is_email, is_number, parse_bool, parse_subscription_status

log = logging.getLogger(__name__)

KEY_RE = re.compile(r"^[A-Za-z0-9_]{1,50}$")
# Declared once, with the settings that change them (ROSTER_OPENAI_MODEL, ROSTER_MAPPING_TIMEOUT).
DEFAULT_MODEL: str = Settings.model_fields["openai_model"].default
DEFAULT_TIMEOUT: float = Settings.model_fields["mapping_timeout"].default
SAMPLES_PER_COLUMN = 5
MAX_VALUE_CHARS = 80
SINGLE_USE = STANDARD_FIELDS


class ModelUnavailable(Exception):
    """No key, a network or server error, a timeout, or an answer that is not the schema's JSON."""


@dataclass(frozen=True)
class OpenAISettings:
    api_key: str | None = None
    base_url: str | None = None
    model: str = DEFAULT_MODEL
    timeout: float = DEFAULT_TIMEOUT
    share_values: bool = True
    samples_per_column: int = SAMPLES_PER_COLUMN

    @classmethod
    def from_env(
        cls, model: str | None = None, timeout: float | None = None, share_values: bool | None = None, base_url: str | None = None
    ) -> OpenAISettings:
        """Explicit arguments win over the environment, which wins over the defaults."""
        settings = get_settings()
        return cls(
            api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
            base_url=base_url or settings.openai_base_url,
            model=model or settings.openai_model,
            timeout=float(timeout if timeout is not None else settings.mapping_timeout),
            share_values=share_values if share_values is not None else settings.mapping_share_values,
        )

    @property
    def available(self) -> bool:
        return bool(self.api_key)


SYSTEM_PROMPT = """You map the columns of a CSV export of contacts onto an email platform's contact fields.
For EVERY column of the file give exactly one item:
- target "email", "first_name", "last_name": the contact's fields; each at most once in the whole answer.
- target "unsubscribed": the contact opted out of email. If the column means the opposite (accepts
  marketing, opted in, subscribed, newsletter consent, or subscription status words), set invert true.
  At most one column.
- target "property": anything else worth keeping, as a contact property. Prefer one of the team's
  existing properties (use its key and its type exactly). Otherwise a new key: 1-50 ASCII letters,
  digits or underscores, lower snake_case, and a type: "number" only for quantities (never for ids,
  postal codes, phone numbers or digits with leading zeros), "boolean" for yes/no flags, else "string".
  No two columns may share a key.
- target "ignore": a column with nothing to keep (empty, repeated, internal noise).
property_key and property_type are null unless target is "property"; invert is false unless target
is "unsubscribed". confidence is 0..1. reason: one short sentence a person reviewing the mapping reads."""


def response_format(headers: list[str]) -> dict[str, Any]:
    """The strict JSON schema of the answer: one item per column."""
    item = {
        "type": "object",
        "additionalProperties": False,
        "required": ["column", "target", "property_key", "property_type", "invert", "confidence", "reason"],
        "properties": {
            "column": {"type": "string", "enum": list(dict.fromkeys(headers))},
            "target": {"type": "string", "enum": list(TARGETS)},
            "property_key": {"type": ["string", "null"]},
            "property_type": {"type": ["string", "null"], "enum": [*PROPERTY_TYPES, None]},
            "invert": {"type": "boolean"},
            "confidence": {"type": "number"},
            "reason": {"type": "string"},
        },
    }
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "column_mapping",
            "strict": True,
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "required": ["columns"],
                "properties": {"columns": {"type": "array", "items": item}},
            },
        },
    }


def _sample(values: list[str], n: int) -> list[str]:
    out: list[str] = []
    for v in values:
        v = (v or "").strip()
        if v and v not in out:
            out.append(v[:MAX_VALUE_CHARS])
            if len(out) >= n:
                break
    return out


def user_message(
    headers: list[str],
    samples: dict[str, list[str]],
    existing: list[ExistingProperty],
    share_values: bool,
    samples_per_column: int = SAMPLES_PER_COLUMN,
) -> str:
    columns = []
    for h in headers:
        values = list(samples.get(h, []))
        col: dict[str, Any] = {"column": h}
        if share_values:
            col["sample_values"] = _sample(values, samples_per_column)
        else:
            col["value_shapes"] = describe_values(values)
        columns.append(col)
    payload = {
        "columns": columns,
        "existing_properties": [{"key": p.key, "type": p.type} for p in existing],
        "values_shared": share_values,
    }
    return json.dumps(payload, ensure_ascii=False)


def ask_model(
    headers: list[str], samples: dict[str, list[str]], existing: list[ExistingProperty], settings: OpenAISettings
) -> list[dict[str, Any]]:
    """One request; the answer's items, unchecked. Raises ModelUnavailable."""
    if not settings.available:
        raise ModelUnavailable("no OPENAI_API_KEY")
    try:
        import openai
    except ImportError as e:  # pragma: no cover - it is a dependency
        raise ModelUnavailable(f"the openai package is not installed: {e}") from None
    client = openai.OpenAI(api_key=settings.api_key, base_url=settings.base_url, timeout=settings.timeout, max_retries=0)
    try:
        # Plain dicts where the SDK declares TypedDicts for the messages and the response format.
        completion = client.chat.completions.create(  # type: ignore[call-overload]
            model=settings.model,
            messages=[
                {"role": "system", "content": SYSTEM_PROMPT},
                {
                    "role": "user",
                    "content": user_message(headers, samples, existing, settings.share_values, settings.samples_per_column),
                },
            ],
            response_format=response_format(headers),
            temperature=0,
        )
    except openai.APITimeoutError:
        raise ModelUnavailable(f"the model did not answer within {settings.timeout:g}s") from None
    except openai.OpenAIError as e:
        raise ModelUnavailable(f"the model request failed: {type(e).__name__}: {str(e)[:200]}") from None
    finally:
        client.close()
    try:
        message = completion.choices[0].message
        if getattr(message, "refusal", None):
            raise ModelUnavailable(f"the model refused: {message.refusal[:200]}")
        data = json.loads(message.content or "")
        items = data["columns"]
        if not isinstance(items, list):
            raise TypeError("columns is not a list")
    except ModelUnavailable:
        raise
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:
        raise ModelUnavailable(f"the model's answer is not the expected JSON ({type(e).__name__}: {e})") from None
    return items


# --- checking the answer -------------------------------------------------------------------------


def _nonempty(values: list[str]) -> list[str]:
    return [v.strip() for v in values if v is not None and str(v).strip()]


def _fits(target: str, ptype: str | None, values: list[str]) -> str | None:
    """Why these values cannot go to this target/type, or None when they can."""
    vals = _nonempty(values)
    if not vals:
        return None
    if target == "email":
        share = sum(is_email(v) for v in vals) / len(vals)
        return None if share >= 0.5 else "its values are not email addresses"
    if target == "unsubscribed":
        ok = all(parse_bool(v) is not None or parse_subscription_status(v) is not None for v in vals)
        return None if ok else "its values are not yes/no or subscription statuses"
    if target == "property" and ptype == "number":
        return None if all(is_number(v) for v in vals) else "its values are not numbers"
    if target == "property" and ptype == "boolean":
        return None if all(parse_bool(v) is not None for v in vals) else "its values are not yes/no"
    return None


@dataclass
class Checked:
    suggestions: list[Suggestion] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)  # {"column", "why"}


def check_answer(
    items: list[Any], headers: list[str], samples: dict[str, list[str]], existing: list[ExistingProperty]
) -> Checked:
    """The items that survive every check, as Suggestions (engine "openai"), and what was dropped."""
    types = {p.key: p.type for p in existing}
    known = set(headers)
    out = Checked()
    parsed: list[tuple[float, int, Suggestion]] = []
    seen_columns: set[str] = set()
    for n, item in enumerate(items):
        col = item.get("column") if isinstance(item, dict) else None
        why = None
        if not isinstance(col, str) or col not in known:
            out.dropped.append({"column": col if isinstance(col, str) else repr(col), "why": "no such header in the file"})
            continue
        if col in seen_columns:
            out.dropped.append({"column": col, "why": "the column was answered twice"})
            continue
        target = item.get("target")
        key = item.get("property_key")
        ptype = item.get("property_type")
        invert = item.get("invert") is True
        try:
            conf = max(0.0, min(1.0, float(item.get("confidence", 0.5))))
        except (TypeError, ValueError):
            conf = 0.5
        reason = str(item.get("reason") or "").strip()[:300] or "suggested by the model"
        if target not in TARGETS:
            why = f"unknown target {target!r}"
        elif target == "property":
            if not isinstance(key, str) or not KEY_RE.match(key):
                why = f"invalid property key {key!r}"
            elif ptype not in PROPERTY_TYPES:
                why = f"impossible property type {ptype!r}"
            elif key in types and types[key] != ptype:
                why = f"property {key!r} exists as a {types[key]}, not a {ptype}"
        if why is None:
            why = _fits(target, ptype if target == "property" else None, list(samples.get(col, [])))
            if why:
                why = f"{target}{' ' + str(ptype) if target == 'property' else ''}: {why}"
        if why:
            out.dropped.append({"column": col, "why": why})
            continue
        seen_columns.add(col)
        is_prop = target == "property"
        parsed.append(
            (
                conf,
                -n,
                Suggestion(
                    column=col,
                    target=target,
                    property_key=key if is_prop else None,
                    property_type=ptype if is_prop else None,
                    is_new_property=is_prop and key not in types,
                    invert=invert if target == "unsubscribed" else False,
                    confidence=round(conf, 2),
                    reason=reason,
                    engine="openai",
                ),
            )
        )
    # One column per field: the most confident claimant keeps it.
    taken: set[str] = set()
    kept: dict[str, Suggestion] = {}
    for _conf, _, s in sorted(parsed, key=lambda t: (t[0], t[1]), reverse=True):
        slot = s.target if s.target in SINGLE_USE else (f"property:{s.property_key}" if s.target == "property" else None)
        if slot and slot in taken:
            out.dropped.append({"column": s.column, "why": f"duplicate target {slot} (another column has it)"})
            continue
        if slot:
            taken.add(slot)
        kept[s.column] = s
    out.suggestions = [kept[h] for h in headers if h in kept]
    return out


def suggest_openai(
    headers: list[str], samples: dict[str, list[str]], existing: list[ExistingProperty], settings: OpenAISettings
) -> Checked:
    """The model's checked suggestions (possibly fewer than the headers). Raises ModelUnavailable."""
    items = ask_model(headers, samples, existing, settings)
    checked = check_answer(items, headers, samples, existing)
    for d in checked.dropped:
        log.info("model suggestion for %r dropped: %s", d["column"], d["why"])
    return checked
