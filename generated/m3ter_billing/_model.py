"""The base of every generated model: msgspec Structs with a strict fast path and a lenient slow path.

Decoding a response (``from_json``) first asks msgspec to decode the bytes straight into the typed
Structs, rejecting unknown fields. That is the fast path, taken whenever the server sends only what the
spec knows. When the body carries a field the spec does not know yet, the body is decoded again on the
slow path, which builds the same Structs and keeps every unknown field on the object that carried it
(``additional_properties``), so nothing the server sent is lost and ``to_dict`` gives it back.
Unknown enum values never need the slow path: the enums are open (see ``_enum.py``).
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import msgspec

from ._exceptions import ResponseValidationError
from ._redact import scrub

M = TypeVar("M", bound="M3terModel")

_EXTRA = "_m3ter_additional_properties"
_UNKNOWN_FIELD = "Object contains unknown field"

# (attribute name, nested model class or None, True when the field is a list of that model)
_FieldPlan = tuple[str, "type[M3terModel] | None", bool]


class M3terModel(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True, dict=True):
    """Common behaviour of the generated models. Fields that were absent on the wire are ``UNSET``."""

    _decoder: ClassVar[msgspec.json.Decoder[Any] | None] = None
    _plan: ClassVar[dict[str, _FieldPlan] | None] = None

    @classmethod
    def from_json(cls: type[M], data: bytes | str, *, status_code: int | None = None) -> M:
        """Decode a JSON document into this model.

        Raises:
            ResponseValidationError: invalid JSON, or a value that does not match the spec (the message
                names its JSON path).
        """
        decoder = cls.__dict__.get("_decoder")
        if decoder is None:
            decoder = msgspec.json.Decoder(cls)
            cls._decoder = decoder
        try:
            return typing.cast(M, decoder.decode(data))
        except msgspec.ValidationError as exc:
            if not str(exc).startswith(_UNKNOWN_FIELD):
                raise _validation_error(exc, "$", status_code, data) from None
        except msgspec.DecodeError as exc:
            raise ResponseValidationError(
                f"invalid JSON: {exc}", path="$", status_code=status_code, body=_as_bytes(data)
            ) from None
        # Slow path: the body has fields the spec does not know. Keep them.
        return _build(cls, msgspec.json.decode(data), "$", status_code, data)

    @classmethod
    def from_dict(cls: type[M], src: Mapping[str, Any]) -> M:
        """Build the model from already-decoded JSON (wire names), keeping unknown fields.

        Raises:
            ResponseValidationError: a value that does not match the spec, with its JSON path.
        """
        return _build(cls, src, "$", None, b"")

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict with wire names: absent fields stay absent, unknown fields come back."""
        out = typing.cast(dict[str, Any], msgspec.to_builtins(self))
        _merge_extras(self, out)
        return out

    def to_json(self) -> bytes:
        """The JSON document :meth:`to_dict` describes."""
        return msgspec.json.encode(self.to_dict())

    # copy, deepcopy and pickle keep the unknown fields (msgspec's own versions know only the declared ones).

    def __copy__(self: M) -> M:
        return _restore(type(self), self._field_values(), self.__dict__.get(_EXTRA))

    def __deepcopy__(self: M, memo: dict[int, Any]) -> M:
        extra = self.__dict__.get(_EXTRA)
        return _restore(type(self), copy.deepcopy(self._field_values(), memo), copy.deepcopy(extra, memo))

    def __reduce__(self) -> tuple[Any, ...]:
        return _restore, (type(self), self._field_values(), self.__dict__.get(_EXTRA))

    def _field_values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__struct_fields__)

    @property
    def additional_properties(self) -> dict[str, Any]:
        """Fields the server sent that the spec does not know (empty when there were none)."""
        return typing.cast(dict[str, Any], self.__dict__.get(_EXTRA, {}))

    def _set_fields(self) -> Iterator[tuple[str, Any]]:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is not msgspec.UNSET:
                yield name, value

    def __repr__(self) -> str:
        parts = [f"{name}={value!r}" for name, value in self._set_fields()]
        if self.additional_properties:
            parts.append(f"additional_properties={self.additional_properties!r}")
        return scrub(f"{type(self).__name__}({', '.join(parts)})")

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return [(name, scrub(value) if isinstance(value, str) else value) for name, value in self._set_fields()]


def _restore(cls: type[M], values: tuple[Any, ...], extra: dict[str, Any] | None) -> M:
    obj = cls(**dict(zip(cls.__struct_fields__, values, strict=True)))
    if extra:
        obj.__dict__[_EXTRA] = dict(extra)
    return obj


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data


def _validation_error(
    exc: msgspec.ValidationError, base: str, status_code: int | None, data: bytes | str
) -> ResponseValidationError:
    message, sep, where = str(exc).rpartition(" - at `")
    if not sep:
        return ResponseValidationError(str(exc), path=base, status_code=status_code, body=_as_bytes(data))
    path = base + where.rstrip("`")[1:]
    return ResponseValidationError(message, path=path, status_code=status_code, body=_as_bytes(data))


def _plan_for(cls: type[M3terModel]) -> dict[str, _FieldPlan]:
    plan = cls.__dict__.get("_plan")
    if plan is None:
        plan = {}
        for field in msgspec.structs.fields(cls):
            nested, is_list = _nested_model(field.type)
            plan[field.encode_name] = (field.name, nested, is_list)
        cls._plan = plan
    return plan


def _nested_model(tp: Any) -> tuple[type[M3terModel] | None, bool]:
    options = typing.get_args(tp) if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union else (tp,)
    for option in options:
        if isinstance(option, type) and issubclass(option, M3terModel):
            return option, False
        if typing.get_origin(option) is list:
            (inner,) = typing.get_args(option)
            if isinstance(inner, type) and issubclass(inner, M3terModel):
                return inner, True
    return None, False


def _build(cls: type[M], value: Any, path: str, status_code: int | None, data: bytes | str) -> M:
    if not isinstance(value, Mapping):
        raise ResponseValidationError(
            f"Expected `object`, got `{type(value).__name__}`", path=path, status_code=status_code, body=_as_bytes(data)
        )
    plan = _plan_for(cls)
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, item in value.items():
        entry = plan.get(key)
        if entry is None:
            extra[key] = item
            continue
        _, nested, is_list = entry
        if nested is not None and is_list and isinstance(item, list):
            try:
                # A subtree without unknown fields converts strictly in one call; only a failing one is
                # rebuilt element by element (which also finds the exact path of a real error).
                item = msgspec.convert(item, list[nested])  # type: ignore[valid-type]
            except msgspec.ValidationError:
                item = [
                    _build_element(nested, element, f"{path}.{key}[{index}]", status_code, data)
                    for index, element in enumerate(item)
                ]
        elif nested is not None and not is_list and isinstance(item, Mapping):
            item = _build_element(nested, item, f"{path}.{key}", status_code, data)
        known[key] = item
    try:
        obj = msgspec.convert(known, cls)
    except msgspec.ValidationError as exc:
        raise _validation_error(exc, path, status_code, data) from None
    if extra:
        obj.__dict__[_EXTRA] = extra
    return obj


def _build_element(cls: type[M], value: Any, path: str, status_code: int | None, data: bytes | str) -> Any:
    if not isinstance(value, Mapping):
        return value  # left for msgspec.convert to reject with its path
    try:
        return msgspec.convert(value, cls)
    except msgspec.ValidationError:
        return _build(cls, value, path, status_code, data)


def _merge_extras(obj: M3terModel, out: dict[str, Any]) -> None:
    extra = obj.__dict__.get(_EXTRA)
    if extra:
        for key, item in extra.items():
            out.setdefault(key, item)
    for encode_name, (name, nested, is_list) in _plan_for(type(obj)).items():
        if nested is None or encode_name not in out:
            continue
        value = getattr(obj, name)
        if is_list:
            for element, element_out in zip(value, out[encode_name], strict=True):
                _merge_extras(element, element_out)
        else:
            _merge_extras(value, out[encode_name])


__all__ = ["M3terModel"]
