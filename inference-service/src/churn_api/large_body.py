"""A customer body too large (or too wrong) to validate in one pass: checked in bounded cost.

Validating a big body the ordinary way costs in proportion to what it holds (100,000 unknown
keys: 100,000 problems built, 250 MB, seconds). Here msgspec first scans it without building
what it skips (about 4 ms a MB, one short C call), then only a compact copy of at most
MAX_KEYS_PER_OBJECT keys, with any array/object value emptied, goes to the `Customer` model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec
from pydantic import BaseModel, ValidationError

from churn_api.errors import InvalidRequestError, body_error
from churn_api.limits import Limits, Reporter, clean_name

_UNKNOWN = re.compile(r"Object contains unknown field `(.*)`", re.DOTALL)
# An object with unknown keys is read key by key only below this many ':' separators (an upper
# bound on its keys): above it, building the keys alone could hold the interpreter ~1 s.
SEPARATORS_READ = 4096


class LargeBodyValidator:
    """Validates one customer body of any size in bounded time and memory."""

    def __init__(
        self, customer: type[BaseModel], limits: Limits, reporter: Callable[[], Reporter]
    ) -> None:
        self.customer = customer
        self.known_fields = list(customer.model_fields)
        self.limits = limits
        self.reporter = reporter
        fields = [(name, msgspec.Raw, msgspec.UNSET) for name in self.known_fields]
        self._probe = msgspec.json.Decoder(
            msgspec.defstruct("Probe", fields, forbid_unknown_fields=True)  # type: ignore[arg-type]
        )
        self._keys = msgspec.json.Decoder(dict[str, msgspec.Raw])

    def validate(self, body: bytes | str) -> Any:
        """The validated customer, or InvalidRequestError with at most max_problems problems."""
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        try:
            probe = self._probe.decode(data)
        except msgspec.ValidationError as exc:
            return self._validate_object(data, str(exc))
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise InvalidRequestError(body_error(f"Invalid JSON: {_first_line(exc)}")) from None
        except RecursionError:
            raise InvalidRequestError(self.limits.too_deep()) from None
        values = {
            name: raw
            for name in self.known_fields
            if (raw := getattr(probe, name)) is not msgspec.UNSET
        }
        return self._validate_compact(values)

    def _validate_object(self, data: bytes, problem: str) -> Any:
        """A body the probe refused: not an object, or unknown keys."""
        first = _UNKNOWN.match(problem)
        if first is None:  # the probe only refuses a non-object or an unknown key
            raise InvalidRequestError(body_error("Input should be an object"))
        separators = data.count(b":")
        if separators > max(SEPARATORS_READ, self.limits.max_keys):
            name = first.group(1)
            raise InvalidRequestError(
                [
                    {"field": clean_name(name), "message": f"Unknown field '{clean_name(name)}'"},
                    *body_error(
                        f"Not read further: {separators} ':' separators, and at most"
                        f" {self.limits.max_keys} keys per object are allowed"
                        " (MAX_KEYS_PER_OBJECT)"
                    ),
                ]
            )
        try:
            values = self._keys.decode(data)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise InvalidRequestError(body_error(f"Invalid JSON: {_first_line(exc)}")) from None
        except RecursionError:
            raise InvalidRequestError(self.limits.too_deep()) from None
        if len(values) > self.limits.max_keys:
            raise InvalidRequestError(self.limits.too_many_keys(len(values)))
        return self._validate_compact(values)

    def _validate_compact(self, values: dict[str, msgspec.Raw]) -> Any:
        """The `Customer` model on the keys found, any array or object value emptied."""
        parts = []
        for name, raw in values.items():
            value = bytes(raw)
            if value[:1] in (b"[", b"{"):
                value = b"[]" if value[:1] == b"[" else b"{}"
            parts.append(msgspec.json.encode(name) + b":" + value)
        compact = b"{" + b",".join(parts) + b"}"
        try:
            return self.customer.model_validate_json(compact)
        except ValidationError as exc:
            raise InvalidRequestError(self.reporter().problems(exc)) from None


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
