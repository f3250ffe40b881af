"""Settings declared once: each field names its variable, default, bounds and meaning.

`from_env` reads every declared field of a frozen settings dataclass and refuses, naming the
variable, a value it cannot use (never silently corrected); the README's configuration table is
generated from the same declarations (`scripts/settings_table.py`). Shared by the server and the
gateway, which each declare their own settings.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Union


class SettingsError(ValueError):
    """A variable is set to something bucketd cannot use; the message names it."""


@dataclasses.dataclass(frozen=True)
class Declaration:
    """What a settings field says about itself."""

    env: str
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


def setting[T](
    env: str,
    default: T,
    doc: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] = (),
) -> T:
    """A settings field read from `env`; `doc` is its line in the README's table."""
    declared = Declaration(env=env, doc=doc, minimum=minimum, maximum=maximum, choices=choices)
    field: T = dataclasses.field(default=default, metadata={"declaration": declared})
    return field


def declarations(cls: type) -> list[tuple[dataclasses.Field[Any], Declaration]]:
    """The declared fields of a settings class, in order."""
    return [
        (field, field.metadata["declaration"])
        for field in dataclasses.fields(cls)
        if "declaration" in field.metadata
    ]


def _kind(annotation: Any) -> type:
    """int, float, str, bool or tuple (of strings), with `| None` removed."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _kind(inner)
    kind: type = origin or annotation
    return kind


def _number(kind: type, raw: str, declared: Declaration) -> float:
    try:
        value = int(raw) if kind is int else float(raw)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise SettingsError(f"{declared.env} must be {noun}, got {raw!r}") from None
    if not math.isfinite(value):
        raise SettingsError(f"{declared.env} must be a finite number, got {raw!r}")
    if declared.minimum is not None and value < declared.minimum:
        raise SettingsError(
            f"{declared.env} must be at least {_plain(declared.minimum)}, got {raw}"
        )
    if declared.maximum is not None and value > declared.maximum:
        raise SettingsError(f"{declared.env} must be at most {_plain(declared.maximum)}, got {raw}")
    return value


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _parse(kind: type, raw: str, declared: Declaration) -> Any:
    if kind is bool:
        lowered = raw.lower()
        if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
            raise SettingsError(f"{declared.env} must be true or false, got {raw!r}")
        return lowered in {"1", "true", "yes", "on"}
    if kind in (int, float):
        return _number(kind, raw, declared)
    if kind is tuple:
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    if declared.choices and raw.lower() not in declared.choices:
        raise SettingsError(
            f"{declared.env} must be one of {', '.join(declared.choices)}, got {raw!r}"
        )
    return raw.lower() if declared.choices else raw


def from_env[S](cls: type[S], env: Mapping[str, str]) -> S:
    """An instance of the settings class `cls` from `env`; unset or empty variables keep the
    default."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field, declared in declarations(cls):
        raw = env.get(declared.env, "").strip()
        if raw:
            values[field.name] = _parse(_kind(hints[field.name]), raw, declared)
    return cls(**values)


def _default(value: Any) -> str:
    if value is None or value == ():
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value >= 1024 * 1024 and value % (1024 * 1024) == 0:
        mib = value // (1024 * 1024)
        return f"{value} ({mib // 1024} GiB)" if mib % 1024 == 0 else f"{value} ({mib} MiB)"
    return _plain(value) if isinstance(value, float) else str(value)


def _bounds(declared: Declaration) -> str:
    if declared.choices:
        return ", ".join(f"`{choice}`" for choice in declared.choices)
    low, high = declared.minimum, declared.maximum
    if low is not None and high is not None:
        return f"{_plain(low)} to {_plain(high)}"
    if low is not None:
        return f"≥ {_plain(low)}"
    return f"≤ {_plain(high)}" if high is not None else ""


def markdown_table(*classes: type) -> str:
    """The configuration table of docs/operating.md: variable, default, meaning."""
    rows = ["| Variable | Default | Allowed | Meaning |", "|---|---|---|---|"]
    for cls in classes:
        for field, declared in declarations(cls):
            default = _default(field.default)
            rows.append(f"| `{declared.env}` | {default} | {_bounds(declared)} | {declared.doc} |")
    return "\n".join(rows) + "\n"
