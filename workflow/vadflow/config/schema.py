"""JSON-schema validation of the config, with one error line that names the culprit.

jsonschema does the validating (the same Draft 2020-12 validator and default-filling as
``snakemake.utils.validate``); this module only turns its errors into one line: the key
path, the bad value and what the schema allows there. jsonschema's own first error is often
a consequence, not the cause: a bad value inside a method's ``if kind: ... then:`` branch
fails the branch, so ``unevaluatedProperties`` then rejects every key of that branch
("'batch_size', 'epochs', ... were unexpected"). Errors of that kind are dropped when a
deeper error explains them, and the keys a real unknown-key error lists are worked out from
the branches that apply to the object. Nothing here knows a method kind or a section name:
kinds and sections added to the schema get the same messages.

Per-dataset overrides (``datasets.<ds>.overrides.<section>.<name>``) are free-form objects in
the schema; :func:`validate_overrides` validates each merged entry against the schema of its
section, naming the override key when the bad value comes from it.
"""
from __future__ import annotations

import copy
import difflib
import json
from pathlib import Path
from typing import Any, Iterable

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

#: the schema that ships with the workflow (workflow/schemas/), next to this package.
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"

#: keywords whose error says "these keys were not accepted".
_LEFTOVER = ("unevaluatedProperties", "additionalProperties")


class SchemaError(ValueError):
    """A config value the schema rejects; the message is one line: key path, value, what is allowed."""


def _with_defaults(cls: type) -> type:
    """Fill ``default`` values while validating (the jsonschema FAQ recipe snakemake uses)."""
    validate_properties = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(prop, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(cls, {"properties": set_defaults})


_DefaultValidator = _with_defaults(Draft202012Validator)


def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def validate(config: dict[str, Any], schema: dict[str, Any] | str | Path = SCHEMA_PATH) -> None:
    """Fill defaults into ``config`` in place and raise :class:`SchemaError` on the first real problem."""
    if not isinstance(schema, dict):
        schema = load_schema(schema)
    check_instance(config, schema, schema, prefix=())


def check_instance(instance: Any, schema: dict[str, Any], root: dict[str, Any], prefix: tuple = (),
                   origin: Any = None) -> None:
    """Validate ``instance`` against ``schema`` (a part of ``root``, whose ``$defs`` it may use).

    ``prefix`` is the key path of ``instance`` in the config; ``origin(path)`` may rename an
    error's path (an override's keys are reported under the override).
    """
    sub = dict(schema) if schema is root else {**schema, "$defs": root.get("$defs", {})}
    errors = list(_DefaultValidator(sub).iter_errors(instance))
    if not errors:
        return
    error = culprit(errors)
    path = tuple(prefix) + tuple(error.absolute_path)
    if origin is not None:
        path = origin(path)
    raise SchemaError(describe_error(error, path, sub))


def culprit(errors: Iterable[ValidationError]) -> ValidationError:
    """The error that names the cause. An ``unevaluatedProperties`` error is dropped when another
    error lies at or below its object: that one failed a branch, and the branch's keys then count
    as unevaluated. Of the rest, the deepest (the most specific key), first in schema order on a tie."""
    errors = list(errors)
    real = [e for e in errors if e.validator != "unevaluatedProperties"]

    def explained(e: ValidationError) -> bool:
        here = tuple(e.absolute_path)
        return any(tuple(r.absolute_path)[: len(here)] == here for r in real)

    keep = [e for e in errors if e.validator != "unevaluatedProperties" or not explained(e)]
    return max(enumerate(keep), key=lambda ie: (len(ie[1].absolute_path), -ie[0]))[1]


# ------------------------------------------------------------------------------ messages


def key_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "config"


def show(value: Any, limit: int = 80) -> str:
    """A config value as the user wrote it (YAML-ish), shortened."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_TYPE_NAMES = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
               "array": "a list", "object": "a mapping", "null": "null"}


def allowed(schema: Any, root: dict[str, Any] | None = None) -> str:
    """What ``schema`` accepts, in words (for the "expected ..." part of a message)."""
    if not isinstance(schema, dict):
        return "anything" if schema is True else "nothing"
    if "$ref" in schema and root is not None:
        schema = {**_resolve(schema["$ref"], root), **{k: v for k, v in schema.items() if k != "$ref"}}
    if "const" in schema:
        return show(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(show(v) for v in schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " or ".join(allowed(s, root) for s in schema[key])
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    words = " or ".join(_TYPE_NAMES.get(t, t) for t in types) if types else "a value"
    bounds = []
    for key, op in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in schema:
            bounds.append(f"{op} {schema[key]}")
    if bounds:
        words += " " + " and ".join(bounds)
    if "pattern" in schema:
        words += f" matching {schema['pattern']}"
    if "array" in types or "items" in schema:
        n_min, n_max = schema.get("minItems"), schema.get("maxItems")
        if n_min is not None and n_min == n_max:
            words += f" of {n_min}"
        elif n_min is not None:
            words += f" of at least {n_min}"
        elif n_max is not None:
            words += f" of at most {n_max}"
        if isinstance(schema.get("items"), dict):
            words += f" ({allowed(schema['items'], root)})"
    if "object" in types and "minProperties" in schema:
        words += f" with at least {schema['minProperties']} entr{'y' if schema['minProperties'] == 1 else 'ies'}"
    return words


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    node: Any = root
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def _note(schema: Any) -> str:
    desc = schema.get("description") if isinstance(schema, dict) else None
    return f" ({' '.join(desc.split())})" if desc and len(desc) <= 120 else ""


def describe_error(error: ValidationError, path: tuple, root: dict[str, Any]) -> str:
    """One line: ``<key path> = <value>: <what is wrong>; expected <what the schema allows>``."""
    where = key_path(path)
    kind = error.validator
    if kind in _LEFTOVER:
        extra = unknown_keys(error, root)
        known = sorted(declared_properties(error.schema, error.instance, root))
        hints = []
        for key in extra:
            close = difflib.get_close_matches(key, known, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        what = _what(error.instance)
        return (f"{where}: unknown key{'s' if len(extra) > 1 else ''} {', '.join(hints)}"
                f"{' for ' + what if what else ''}; allowed keys: {', '.join(known) or 'none'}")
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.validator_value
        sub = (error.schema.get("properties") or {}).get(missing) if isinstance(error.schema, dict) else None
        what = _what(error.instance)
        return (f"{key_path(path + (missing,))} is missing: it is required{' for ' + what if what else ''}"
                + (f"; expected {allowed(sub, root)}{_note(sub)}" if isinstance(sub, dict) and sub else ""))
    if "propertyNames" in error.relative_schema_path:
        return f"{where}: the name {show(error.instance)} is not allowed: expected {allowed(error.schema, root)}{_note(error.schema)}"
    if kind in ("minProperties", "maxProperties"):
        return f"{where} = {show(error.instance)}: expected {allowed(error.schema, root)}"
    return f"{where} = {show(error.instance)} is not allowed: expected {allowed(error.schema, root)}{_note(error.schema)}"


def _what(instance: Any) -> str:
    """``kind adnet`` for objects that pick their keys by a ``kind``/``source``/``mode`` value."""
    if isinstance(instance, dict):
        for key in ("kind", "source", "mode"):
            if isinstance(instance.get(key), str):
                return f"{key} {instance[key]}"
    return ""


def unknown_keys(error: ValidationError, root: dict[str, Any]) -> list[str]:
    """The keys of the object that no applicable ``properties`` declares (falls back to the
    keys jsonschema lists)."""
    inst = error.instance if isinstance(error.instance, dict) else {}
    known = declared_properties(error.schema, inst, root)
    extra = [k for k in inst if k not in known]
    if extra:
        return extra
    return [part.strip(" '") for part in error.message.split("(")[-1].split(")")[0].split(",")
            if part.strip(" '") and " " not in part.strip(" '")]


def declared_properties(schema: Any, instance: Any, root: dict[str, Any]) -> set[str]:
    """Property names that ``schema`` declares for ``instance``: its own ``properties``, those of
    every ``allOf`` part and ``$ref``, and of the ``then``/``else`` branch whose ``if`` the
    instance meets (what ``unevaluatedProperties`` accepts when those branches pass)."""
    if not isinstance(schema, dict):
        return set()
    if "$ref" in schema:
        return declared_properties(_resolve(schema["$ref"], root), instance, root) | declared_properties(
            {k: v for k, v in schema.items() if k != "$ref"}, instance, root)
    out = set(schema.get("properties") or {})
    for part in schema.get("allOf", []):
        out |= declared_properties(part, instance, root)
    for key in ("anyOf", "oneOf"):
        for part in schema.get(key, []):
            if _matches(part, instance, root):
                out |= declared_properties(part, instance, root)
    if "if" in schema:
        branch = "then" if _matches(schema["if"], instance, root) else "else"
        out |= declared_properties(schema.get(branch), instance, root)
    return out


def _matches(schema: Any, instance: Any, root: dict[str, Any]) -> bool:
    sub = schema if not isinstance(schema, dict) else {**schema, "$defs": root.get("$defs", {})}
    return Draft202012Validator(sub).is_valid(instance)


# ------------------------------------------------------------------------------ overrides


def section_schema(root: dict[str, Any], section: str) -> dict[str, Any] | None:
    """The schema of one entry of top-level ``section`` (``methods`` -> ``$defs/method``)."""
    sec = (root.get("properties") or {}).get(section) or {}
    item = sec.get("additionalProperties")
    return item if isinstance(item, dict) else None


def validate_overrides(config: dict[str, Any], root: dict[str, Any], merge: Any) -> None:
    """Validate ``datasets.<ds>.overrides.<section>.<name>`` merged over ``<section>.<name>``.

    ``merge(base, over)`` is the config's deep merge. The error path points into the override
    when the offending key is one the override sets, else at the base section.
    """
    for ds, dsec in (config.get("datasets") or {}).items():
        for section, entries in ((dsec or {}).get("overrides") or {}).items():
            item = section_schema(root, section)
            for name, over in (entries or {}).items():
                where = ("datasets", ds, "overrides", section, name)
                if name not in (config.get(section) or {}):
                    known = ", ".join(sorted(config.get(section) or {})) or "none"
                    raise SchemaError(f"{key_path(where)}: overrides {section}.{name}, which `{section}:` does not "
                                      f"define; expected one of: {known}")
                if item is None or not isinstance(over, dict):
                    continue
                merged = merge(config[section][name], over)

                def origin(path: tuple, over=over, where=where, section=section, name=name) -> tuple:
                    rel = path[2:]
                    node: Any = over
                    for part in rel:
                        if isinstance(node, dict) and part in node:
                            node = node[part]
                        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                            node = node[part]
                        else:
                            return path
                    return where + rel

                check_instance(merged, item, root, prefix=(section, name), origin=origin)
