"""What one request may cost: problems listed, keys per object, nesting depth; and the bounded
report of a bad customer (the first MAX_PROBLEMS problems and a count of the rest, "did you
mean" for a few short unknown keys, names cut short, never a value of the input)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from churn_api.errors import body_error

NAME_CHARS = 64  # of a field name echoed back
SUGGEST_CHARS = 40  # longer unknown keys get no "did you mean" search
SUGGESTIONS = 5  # uncached searches per request (a repeated typo is cached: free)
_TYPE_TAGS = {"int", "float", "str", "bool", "function-before", "function-after", "none"}
_MISS = object()


@dataclass(frozen=True)
class Limits:
    """The request-shape limits of docs/api.md "Limits" (settings MAX_*)."""

    max_problems: int = 20
    max_keys: int = 64
    max_depth: int = 32
    inline_bytes: int = 8192

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        """The limits configured in Settings."""
        return cls(
            settings.max_problems,
            settings.max_keys_per_object,
            settings.max_json_depth,
            settings.inline_body_bytes,
        )

    def too_many_keys(self, count: int, field: str = "body") -> list[dict[str, str]]:
        """The one problem of an object with too many keys."""
        return body_error(
            f"Object has {count} keys; at most {self.max_keys} are allowed (MAX_KEYS_PER_OBJECT)",
            field,
        )

    def too_deep(self) -> list[dict[str, str]]:
        """The one problem of a body nested too deep."""
        return body_error(f"JSON nested deeper than {self.max_depth} levels (MAX_JSON_DEPTH)")


def clean_name(name: Any) -> str:
    """A field name as it may be echoed: text, at most NAME_CHARS, valid UTF-8."""
    if type(name) is str and len(name) <= NAME_CHARS and name.isascii():
        return name
    text = str(name)
    if len(text) > NAME_CHARS:
        text = text[:NAME_CHARS] + "..."
    return text.encode("utf-8", "replace").decode("utf-8")


class Suggester:
    """Did-you-mean for unknown keys: cached by name (bounded), a few searches a request."""

    def __init__(self, known_fields: list[str]) -> None:
        self.known = known_fields
        self._cache: dict[str, str | None] = {}

    def __call__(self, name: str, budget: list[int]) -> str | None:
        """The closest known field, or None; an uncached search spends one of `budget`."""
        if len(name) > SUGGEST_CHARS:
            return None
        hit = self._cache.get(name, _MISS)
        if hit is not _MISS:
            return hit  # type: ignore[return-value]
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        close = difflib.get_close_matches(name, self.known, n=1, cutoff=0.6)
        if len(self._cache) >= 4096:
            self._cache.clear()
        self._cache[name] = close[0] if close else None
        return self._cache[name]


class Reporter:
    """Formats pydantic errors for one request: its "did you mean" budget spans the request."""

    def __init__(self, suggest: Suggester, limits: Limits) -> None:
        self.suggest = suggest
        self.limits = limits
        self.budget = [SUGGESTIONS]

    def problems(self, exc: ValidationError) -> list[dict[str, str]]:
        """The first max_problems problems, then one entry counting the rest."""
        out: list[dict[str, str]] = []
        limit = self.limits.max_problems
        for err in exc.errors(include_input=False, include_url=False)[:limit]:
            loc = tuple(err["loc"])
            # Literal/union branches add the type name to loc; keep only the data path.
            path = [
                clean_name(p)
                for p in loc
                if not (isinstance(p, str) and ("[" in p or p in _TYPE_TAGS))
            ]
            field = ".".join(path) or "body"
            message = err["msg"]
            if err["type"] == "json_invalid" and "recursion limit" in message:
                return self.limits.too_deep()
            if err["type"] == "extra_forbidden":
                out.append(self.unknown(loc[-1]))
            else:
                out.append({"field": field, "message": message})
        return self._counted(out, exc.error_count()) or body_error("invalid body")

    def unknown(self, key: Any, field: str | None = None) -> dict[str, str]:
        """The problem of one unknown key, with a "did you mean" while the budget lasts."""
        name = clean_name(key)
        message = f"Unknown field '{name}'"
        close = self.suggest(str(key), self.budget)
        if close:
            message += f"; did you mean '{close}'?"
        return {"field": field or name or "body", "message": message}

    def unknown_keys(self, keys: list[Any]) -> list[dict[str, str]]:
        """An object with more unknown keys than max_problems: the first ones, then a count
        (its other fields are not checked)."""
        shown = [self.unknown(k) for k in keys[: self.limits.max_problems]]
        return self._counted(
            shown, len(keys), "unknown fields", "; the other fields were not checked"
        )

    def _counted(
        self, shown: list[dict[str, str]], total: int, noun: str = "problems", tail: str = ""
    ) -> Any:
        rest = total - len(shown)
        if rest > 0:
            limit = self.limits.max_problems
            shown += body_error(f"{rest} more {noun} not listed (at most {limit} are){tail}")
        return shown


def deeper_than(value: Any, limit: int) -> bool:
    """Whether a parsed JSON value nests deeper than `limit` (iterative: no recursion)."""
    if type(value) is not dict and type(value) is not list:
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        for child in item.values() if type(item) is dict else item:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return False
