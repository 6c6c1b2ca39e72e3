"""Fields the spec does not know yet, learned at run time so drifting bodies still decode at full speed.

When msgspec rejects a body because an object carries an unknown field, the field's name and the JSON path
of the object are in the error. We record the name for the model class found at that path and derive,
once, a subclass of that model (same class name, ``isinstance`` holds) that declares the learned names as
extra fields typed ``Any``; its parents get subclasses whose nested fields use it. The next decode of the
same shape then runs entirely in msgspec's C code, and ``to_builtins`` writes the extra fields back under
their wire names. At most ``MAX_LEARNED`` names of at most ``MAX_NAME_LENGTH`` characters are learned per
model class (a server inventing a new key per response, or sending megabyte-long keys, must not grow memory
without bound); other unknown fields take ``_model``'s lenient slow path, which keeps them just the same.
``forget`` releases what was learned (``M3terModel.forget_learned_fields`` is the public way).
"""

from __future__ import annotations

import re
import threading
import types
import typing
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from ._model import M3terModel

MAX_LEARNED = 64
MAX_NAME_LENGTH = 128
EXTRA_PREFIX = "_m3ter_extra_"
# The field of a lenient variant that holds the unknown fields the lenient path found on an object (a dict).
# Lenient variants only ever convert trees ``_model`` has stripped of unknown keys, so a server cannot fill it.
LENIENT_ATTR = f"{EXTRA_PREFIX}lenient"
LENIENT_WIRE = "_m3ter_additional_properties"

_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>.*?)`(?: - at `(?P<path>\$[^`]*)`)?$", re.DOTALL)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")

# Guards the learned names and the derived classes and decoders; every writer of the three holds it.
_lock = threading.RLock()
_names: dict[type[M3terModel], dict[str, None]] = {}
_classes: dict[type[M3terModel], type[M3terModel]] = {}
_decoders: dict[type[M3terModel], msgspec.json.Decoder[Any]] = {}
_lenient: dict[type[M3terModel], type[M3terModel]] = {}


def unknown_field(exc: msgspec.ValidationError) -> tuple[str, str] | None:
    """``(field name, JSON path of its object)`` when ``exc`` reports an unknown field, else None."""
    match = _UNKNOWN.match(str(exc))
    if match is None:
        return None
    return match["name"], match["path"] or "$"


def nested_model(tp: Any) -> tuple[type[M3terModel] | None, bool]:
    """The model a field holds (directly or as a list), and whether it is a list."""
    from ._model import M3terModel

    options = typing.get_args(tp) if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union else (tp,)
    for option in options:
        if isinstance(option, type) and issubclass(option, M3terModel):
            return option, False
        if typing.get_origin(option) is list:
            (inner,) = typing.get_args(option)
            if isinstance(inner, type) and issubclass(inner, M3terModel):
                return inner, True
    return None, False


def _nullable(tp: Any) -> bool:
    """Whether a field's type admits None (an optional field accepts the null a server may send)."""
    return (isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union) and type(None) in typing.get_args(
        tp
    )


def _model_at(root: type[M3terModel], path: str) -> type[M3terModel] | None:
    model = root
    for key, _index in _STEP.findall(path.removeprefix("$")):
        if not key:
            continue
        nested = _nested_by_wire(model).get(key)
        if nested is None:
            return None
        model = nested
    return model


_wire_index: dict[type[M3terModel], dict[str, type[M3terModel]]] = {}


def _nested_by_wire(model: type[M3terModel]) -> dict[str, type[M3terModel]]:
    """Wire name -> nested model class, for the fields of ``model`` that hold models (cached per spec class:
    ``msgspec.structs.fields`` is too costly, and leaves cyclic garbage, to call on every lenient decode)."""
    base = typing.cast("type[M3terModel]", getattr(model, "_drift_base", None) or model)
    index = _wire_index.get(base)
    if index is None:
        index = {}
        for field in msgspec.structs.fields(base):
            nested, _ = nested_model(field.type)
            if nested is not None:
                index[field.encode_name] = nested
        _wire_index[base] = index
    return index


def learn(root: type[M3terModel], name: str, path: str) -> bool:
    """Record that objects at ``path`` under ``root`` carry the field ``name``. False when it cannot be
    learned (unresolvable path, a name already learned, or the per-class limit reached)."""
    base = _model_at(root, path)
    if base is None:
        return False
    base = typing.cast("type[M3terModel]", getattr(base, "_drift_base", None) or base)
    if len(name) > MAX_NAME_LENGTH or len(_names.get(base, ())) >= MAX_LEARNED or not _declarable(name):
        return False
    with _lock:
        names = _names.setdefault(base, {})
        if name in names or len(names) >= MAX_LEARNED:
            return False
        names[name] = None
        _classes.clear()
        _decoders.clear()
    return True


def _declarable(name: str) -> bool:
    """Whether msgspec accepts ``name`` as a field's wire name (it refuses quotes, backslashes and control
    characters); a name it refuses stays with the lenient path."""
    try:
        msgspec.defstruct("_Probe", [("probe", Any, msgspec.field(name=name, default=msgspec.UNSET))])
    except (ValueError, TypeError):
        return False
    return True


def decoder_for(base: type[M3terModel]) -> msgspec.json.Decoder[Any]:
    """A JSON decoder for ``base`` that knows every field learned so far."""
    decoder = _decoders.get(base)
    if decoder is None:
        with _lock:
            _build(base)
            decoder = _decoders[base]
    return decoder


def class_for(base: type[M3terModel]) -> type[M3terModel]:
    """``base``, or its subclass declaring the learned fields of it and of the models it holds."""
    cached = _classes.get(base)
    if cached is None:
        with _lock:
            cached = _build(base)
    return cached


def lenient_class_for(base: type[M3terModel]) -> type[M3terModel]:
    """The lenient variant of ``base``: a subclass with one more field, ``LENIENT_ATTR``, for the unknown
    fields of an object, whose nested models are lenient variants too. One per model class."""
    cached = _lenient.get(base)
    if cached is None:
        with _lock:
            cached = _build_lenient(base)
    return cached


def _build_lenient(base: type[M3terModel]) -> type[M3terModel]:
    cached = _lenient.get(base)
    if cached is not None:
        return cached
    fields = _retyped(base, _build_lenient)
    fields.append((LENIENT_ATTR, Any, msgspec.field(name=LENIENT_WIRE, default=msgspec.UNSET)))
    result = _derive(base, fields)
    result._lenient_attr = LENIENT_ATTR
    msgspec.json.Decoder(result)  # completes the type before it is published (see _build)
    _lenient[base] = result
    return result


def _retyped(base: type[M3terModel], derive: Any) -> list[tuple[str, Any, Any]]:
    """The fields of ``base`` that hold models, typed with ``derive(model)`` where that is another class."""
    fields: list[tuple[str, Any, Any]] = []
    for field in msgspec.structs.fields(base):
        nested, is_list = nested_model(field.type)
        if nested is None:
            continue
        derived = derive(nested)
        if derived is nested:
            continue
        kind: Any = list[derived] if is_list else derived  # type: ignore[valid-type]
        if _nullable(field.type):
            kind = kind | None
        if field.default is msgspec.UNSET:
            fields.append(
                (field.name, kind | msgspec.UnsetType, msgspec.field(name=field.encode_name, default=msgspec.UNSET))
            )
        else:
            fields.append((field.name, kind, msgspec.field(name=field.encode_name)))
    return fields


def _derive(base: type[M3terModel], fields: list[tuple[str, Any, Any]]) -> type[M3terModel]:
    """A subclass of ``base`` (same name, so ``isinstance`` and reprs hold) declaring ``fields``."""
    result: type[M3terModel] = msgspec.defstruct(  # type: ignore[assignment]
        base.__name__,
        fields,
        bases=(base,),
        module=base.__module__,
        kw_only=True,
        forbid_unknown_fields=True,
        omit_defaults=True,
        gc=False,
    )
    result._drift_base = base
    return result


def _build(base: type[M3terModel]) -> type[M3terModel]:
    """Derive (or find) the class for ``base``; the caller holds ``_lock``.

    msgspec completes a Struct type's internal description on first use, and two threads doing that at
    once for a freshly derived type can crash the interpreter. So the class is derived, a Decoder is
    built for it (which completes it) and only then is either published in the caches.
    """
    cached = _classes.get(base)
    if cached is not None:
        return cached
    fields = _retyped(base, _build)
    learned = list(_names.get(base, {}))
    extras = tuple((f"{EXTRA_PREFIX}{index}", wire) for index, wire in enumerate(learned))
    fields.extend((attr, Any, msgspec.field(name=wire, default=msgspec.UNSET)) for attr, wire in extras)
    result: type[M3terModel] = base
    if fields:
        result = _derive(base, fields)
        result._extra_fields = extras
    decoder = msgspec.json.Decoder(result)
    _decoders[base] = decoder
    _classes[base] = result
    return result


def learned() -> dict[type[M3terModel], tuple[str, ...]]:
    """The field names learned so far, by model class."""
    with _lock:
        return {model: tuple(names) for model, names in _names.items() if names}


def forget(root: type[M3terModel] | None = None) -> int:
    """Drop the names learned for ``root`` and every model it holds (all of them when ``root`` is None);
    returns how many were dropped. Derived classes and decoders are rebuilt on the next decode; objects
    decoded before keep their fields."""
    with _lock:
        if root is None:
            dropped = sum(len(names) for names in _names.values())
            _names.clear()
        else:
            dropped = sum(len(_names.pop(model, {})) for model in tree(root))
        _classes.clear()
        _decoders.clear()
    return dropped


def tree(root: type[M3terModel]) -> set[type[M3terModel]]:
    """``root`` (its spec class) and every model class reachable through its fields."""
    seen: set[type[M3terModel]] = set()
    todo = [typing.cast("type[M3terModel]", getattr(root, "_drift_base", None) or root)]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for field in msgspec.structs.fields(model):
            nested, _ = nested_model(field.type)
            if nested is not None:
                todo.append(typing.cast("type[M3terModel]", getattr(nested, "_drift_base", None) or nested))
    return seen


__all__ = [
    "LENIENT_ATTR",
    "LENIENT_WIRE",
    "MAX_LEARNED",
    "MAX_NAME_LENGTH",
    "class_for",
    "decoder_for",
    "forget",
    "learn",
    "learned",
    "lenient_class_for",
    "nested_model",
    "tree",
    "unknown_field",
]
