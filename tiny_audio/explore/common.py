"""What every experiment's results share: turning their dataclasses into JSON."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass


def to_jsonable(value):
    """Dataclasses (nested, in lists or dicts) → plain dicts and lists, for ``json.dumps``."""
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    return value
