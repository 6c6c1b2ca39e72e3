"""The base of every generated model: msgspec Structs decoded strictly, keeping what the spec lacks.

Decoding a response (``from_json``) asks msgspec to decode the bytes straight into the typed Structs,
rejecting unknown fields. When a body carries a field the spec does not know yet, the rejection names it;
``_learned`` records it and derives subclasses that declare it, and the body is decoded again, still in
msgspec's C code. Every unknown field is kept on the object that carried it (``additional_properties``)
and ``to_dict`` gives it back: nothing the server sent is lost. Past the learning limit, a lenient slow
path (decode to builtins, strip unknown keys, convert once, re-attach them) does the same job.
Unknown enum values need none of this: the enums are open (see ``_enum.py``).
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar

import msgspec

from . import _learned
from ._collector import decode_paused
from ._exceptions import ResponseValidationError
from ._redact import scrub

M = TypeVar("M", bound="M3terModel")

# How many unknown fields one decode may learn before it falls back to the slow path.
_MAX_ROUNDS = 16

# (attribute name, nested model class or None, True when the field is a list of that model)
_FieldPlan = tuple[str, "type[M3terModel] | None", bool]


class _DumpField(NamedTuple):
    """A declared field as ``to_dict`` writes it (learned extra fields and the lenient dict excluded)."""

    wire: str
    name: str
    model: type[M3terModel] | None  # the model it holds, directly or as a list
    is_list: bool
    optional: bool  # has a default (UNSET): absent or null is the official models' default, None


class _DumpOptions(NamedTuple):
    python: bool  # mode="python": datetimes, dates and enum members as they are
    use_api_names: bool
    exclude_unset: bool
    exclude_defaults: bool
    exclude_none: bool


_DEFAULT_DUMP = _DumpOptions(
    python=False, use_api_names=True, exclude_unset=True, exclude_defaults=False, exclude_none=False
)
"""The options of a plain ``to_dict()``: the wire form msgspec writes."""


class M3terModel(_learned.LearningStruct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """Common behaviour of the generated models. Fields that were absent on the wire are ``UNSET``.

    Models are not tracked by Python's cyclic garbage collector (``gc=False``): a decoded tree holds only
    JSON values and other models and can never contain a reference cycle, and a collector that scanned the
    millions of objects of a huge bill would make each line item cost more the bigger the bill. Freeing a
    model is still immediate (reference counting). Only a cycle you build yourself, by storing a model inside
    its own ``additional``/``segment``/``group`` dict or list, would never be freed.
    """

    _plan: ClassVar[dict[str, _FieldPlan] | None] = None
    _nested: ClassVar[Any] = None
    _dump_fields: ClassVar[Any] = None

    @classmethod
    def from_json(cls: type[M], data: bytes | str, *, status_code: int | None = None) -> M:
        """Decode a JSON document into this model (or a subclass declaring fields the spec lacks).

        Raises:
            ResponseValidationError: invalid JSON (including bytes that are not UTF-8 and nesting too deep
                to decode), or a value that does not match the spec (the message names its JSON path).
        """
        try:
            return _decode(cls, data, status_code)
        except (UnicodeDecodeError, RecursionError) as exc:
            raise _unreadable(exc, status_code, data) from None

    @classmethod
    def from_dict(cls: type[M], src: Mapping[str, Any]) -> M:
        """Build the model from already-decoded JSON (wire names), keeping unknown fields.

        Raises:
            ResponseValidationError: a value that does not match the spec, with its JSON path (also a tree
                nested too deeply to convert).
        """
        try:
            return _convert(cls, src)
        except RecursionError as exc:
            raise _unreadable(exc, None, b"") from None

    @classmethod
    def learned_fields(cls) -> dict[str, tuple[str, ...]]:
        """Unknown field names learned so far in this process (by model class name) for this model and the
        models it holds; on ``M3terModel`` itself, for every model."""
        scope = None if cls is M3terModel else _learned.tree(cls)
        return {model.__name__: names for model, names in _learned.learned().items() if scope is None or model in scope}

    @classmethod
    def forget_learned_fields(cls) -> int:
        """Release the unknown field names learned for this model and the models it holds (on
        ``M3terModel`` itself: for every model), with the classes and decoders derived for them; returns
        how many names were released. Later bodies learn again; objects decoded before are unchanged.

        At most ``MAX_LEARNED`` (64) names of at most ``MAX_NAME_LENGTH`` (128) characters are learned per
        model class; unknown fields past either limit take a slower path that keeps them all the same.
        """
        return _learned.forget(None if cls is M3terModel else cls)

    def to_dict(
        self,
        *,
        mode: Literal["json", "python"] = "json",
        use_api_names: bool = True,
        exclude_unset: bool = True,
        exclude_defaults: bool = False,
        exclude_none: bool = False,
        warnings: bool = True,
    ) -> dict[str, Any]:
        """The model as a dict; by default the JSON-ready one with wire names: absent fields left out, the
        unknown fields the server sent given back. The official models' keywords, applied at every level:

        - ``mode="json"`` (the default here; the official one is ``"python"``): only JSON types, date-times
          and dates as RFC 3339 strings, enums as their values; ``"python"``: ``datetime.datetime``,
          ``datetime.date`` and enum members (``str`` enums) as the model holds them.
        - ``use_api_names=False``: attribute names (``bill_total``, ``from_``) instead of wire names
          (``billTotal``, ``from``). Unknown fields keep the name they were sent with; one that is also a
          field's attribute name raises ``ValueError`` rather than being lost.
        - ``exclude_unset=False``: absent fields too, as None.
        - ``exclude_defaults=True``: optional fields at the official models' default left out: absent or
          null (required fields are always there).
        - ``exclude_none=True``: fields that are null (or absent, with ``exclude_unset=False``) left out,
          unknown ones too; nulls inside a dict-valued field (``additional``, ``segment``) stay.
        - ``warnings``: accepted as there; no serialization warning is ever issued.

        Unknown fields come back under every option, with the name they were sent with (``exclude_none``
        leaves out those that are null, as the official models do). A keyword of the wrong type is a
        ``TypeError``, a ``mode`` other than those two a ``ValueError``.
        """
        return _as_dict(
            self,
            "to_dict",
            mode,
            use_api_names=use_api_names,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
            exclude_none=exclude_none,
            warnings=warnings,
        )

    def to_json(
        self,
        *,
        indent: int | None = None,
        use_api_names: bool = True,
        exclude_unset: bool = True,
        exclude_defaults: bool = False,
        exclude_none: bool = False,
        warnings: bool = True,
    ) -> bytes:
        """The JSON document :meth:`to_dict` describes (its ``mode="json"``), as UTF-8 ``bytes``.

        ``indent``: None (the default here; the official one is 2) for a compact document, or the number of
        spaces to indent each level by, as ``json.dumps`` does (0: each value on its own line, unindented).
        The other keywords are :meth:`to_dict`'s. ``.decode()`` gives the ``str`` the official SDK returns.
        """
        if indent is not None and (not isinstance(indent, int) or isinstance(indent, bool)):
            raise TypeError(f"to_json() indent= must be an int or None, not {type(indent).__name__}")
        if indent is not None and indent < 0:
            raise ValueError(f"to_json() indent= must be 0 or more, not {indent}")
        data = msgspec.json.encode(
            _as_dict(
                self,
                "to_json",
                "json",
                use_api_names=use_api_names,
                exclude_unset=exclude_unset,
                exclude_defaults=exclude_defaults,
                exclude_none=exclude_none,
                warnings=warnings,
            )
        )
        if indent is None:
            return data
        if indent == 0:  # json.dumps' indent=0: a line per value, none indented (JSON strings hold no newline)
            return b"\n".join(line.lstrip(b" ") for line in msgspec.json.format(data, indent=1).split(b"\n"))
        return msgspec.json.format(data, indent=indent)

    # Equality by content: a model decoded after a field was learned is an instance of a derived class, and
    # msgspec's own __eq__ is False across classes, so BillResponse(id="x") would differ from a decoded one.

    def __eq__(self, other: object) -> bool:
        if type(self) is type(other):
            assert isinstance(other, M3terModel)
            return super().__eq__(other) is True
        if isinstance(other, M3terModel) and _base_of(self) is _base_of(other):
            return self.to_dict() == other.to_dict()
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]  # mutable, so unhashable (as msgspec Structs are)

    # copy, deepcopy and pickle keep the unknown fields (msgspec's own versions know only the declared ones).

    def __copy__(self: M) -> M:
        return _restore(type(self), self._field_values())

    def __deepcopy__(self: M, memo: dict[int, Any]) -> M:
        return _restore(type(self), copy.deepcopy(self._field_values(), memo))

    def __reduce__(self) -> tuple[Any, ...]:
        base = type(self)._drift_base
        if base is not None:  # a class derived at run time is rebuilt from its wire form
            return _from_wire, (base, self.to_dict())
        return _restore, (type(self), self._field_values())

    def _field_values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__struct_fields__)

    @property
    def additional_properties(self) -> dict[str, Any]:
        """Fields the server sent that the spec does not know (empty when there were none)."""
        extra = {
            wire: getattr(self, attr) for attr, wire in self._extra_fields if getattr(self, attr) is not msgspec.UNSET
        }
        if self._lenient_attr is not None:
            lenient = getattr(self, self._lenient_attr)
            if lenient is not msgspec.UNSET:
                extra.update(lenient)
        return extra

    def _set_fields(self) -> Iterator[tuple[str, Any]]:
        for name in self.__struct_fields__:
            if name.startswith(_learned.EXTRA_PREFIX):
                continue
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


def _decode(cls: type[M], data: bytes | str, status_code: int | None) -> M:
    for _ in range(_MAX_ROUNDS):
        try:
            return typing.cast(M, decode_paused(_learned.decoder_for(cls).decode, data))
        except msgspec.ValidationError as exc:
            unknown = _learned.unknown_field(exc)
            if unknown is None:
                raise _validation_error(exc, "$", status_code, data) from None
            if not _learned.learn(cls, *unknown):
                break
        except msgspec.DecodeError as exc:
            raise _invalid_json(exc, status_code, data) from None
    try:  # msgspec reports an unknown field as soon as it reads its key, before a later syntax error
        tree = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise _invalid_json(exc, status_code, data) from None
    return _build(cls, tree, "$", status_code, data, owned=True)


def _invalid_json(exc: msgspec.DecodeError, status_code: int | None, data: bytes | str) -> ResponseValidationError:
    return ResponseValidationError(f"invalid JSON: {exc}", path="$", status_code=status_code, body=_as_bytes(data))


def _convert(cls: type[M], src: Mapping[str, Any]) -> M:
    for _ in range(_MAX_ROUNDS):
        try:
            return typing.cast(M, msgspec.convert(src, _learned.class_for(cls)))
        except msgspec.ValidationError as exc:
            unknown = _learned.unknown_field(exc)
            if unknown is None:
                raise _validation_error(exc, "$", None, b"") from None
            if not _learned.learn(cls, *unknown):
                break
    return _build(cls, src, "$", None, b"")


def _unreadable(exc: UnicodeDecodeError | RecursionError, status_code: int | None, data: bytes | str) -> Exception:
    if isinstance(exc, UnicodeDecodeError):
        message = f"invalid JSON: not UTF-8 ({exc.reason} at byte {exc.start})"
    else:
        message = "invalid JSON: nested too deeply to decode"
    return ResponseValidationError(message, path="$", status_code=status_code, body=_as_bytes(data))


def _base_of(obj: M3terModel) -> type[_learned.LearningStruct]:
    return type(obj)._drift_base or type(obj)


def _restore(cls: type[M], values: tuple[Any, ...]) -> M:
    return cls(**dict(zip(cls.__struct_fields__, values, strict=True)))


def _from_wire(cls: type[M], wire: dict[str, Any]) -> M:
    return cls.from_dict(wire)


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
            nested, is_list = _learned.nested_model(field.type)
            plan[field.encode_name] = (field.name, nested, is_list)
        cls._plan = plan
    return plan


def _nested_fields(cls: type[M3terModel]) -> tuple[frozenset[str], tuple[tuple[str, type[M3terModel], bool], ...]]:
    """The wire names of ``cls`` and, for its fields holding models, (wire name, model, is a list)."""
    cached = cls.__dict__.get("_nested")
    if cached is None:
        plan = _plan_for(cls)
        nested = tuple((key, model, is_list) for key, (_, model, is_list) in plan.items() if model is not None)
        cached = (frozenset(plan), nested)
        cls._nested = cached
    return typing.cast(tuple[frozenset[str], tuple[tuple[str, type[M3terModel], bool], ...]], cached)


# A location in the decoded tree: wire names and list indexes from the root.
_Location = tuple[str | int, ...]
_Found = list[tuple[_Location, dict[str, Any]]]


def _strip(cls: type[M3terModel], value: dict[str, Any], where: _Location, found: _Found) -> None:
    """Remove, in place and at every level, the keys ``cls`` does not know; each removed set goes to ``found``.

    ``value`` must be a tree this module owns (freshly decoded or copied). The cost for an object without
    unknown keys is one subset test; values of the wrong shape are left for ``msgspec.convert`` to reject
    with their JSON path.
    """
    known, nested = _nested_fields(cls)
    if not known.issuperset(value):
        found.append((where, {key: value.pop(key) for key in [key for key in value if key not in known]}))
    for key, model, is_list in nested:
        child = value.get(key)
        if child is None:
            continue
        if is_list:
            if isinstance(child, list):
                _strip_list(model, child, where, key, found)
        elif isinstance(child, dict):
            _strip(model, child, (*where, key), found)


def _strip_list(model: type[M3terModel], items: list[Any], where: _Location, key: str, found: _Found) -> None:
    known, nested = _nested_fields(model)
    for index, element in enumerate(items):
        if not isinstance(element, dict):
            continue
        if nested or not known.issuperset(element):
            _strip(model, element, (*where, key, index), found)


def _build(
    cls: type[M], value: Any, path: str, status_code: int | None, data: bytes | str, *, owned: bool = False
) -> M:
    """Build ``cls`` from decoded JSON, keeping unknown fields: strip them, put each object's set back under
    one hidden key, and convert once into the lenient variant of ``cls``, which holds them.

    ``owned`` says the tree may be changed in place (it was just decoded); otherwise it is copied first.
    """
    if not isinstance(value, Mapping):
        raise ResponseValidationError(
            f"Expected `object`, got `{type(value).__name__}`", path=path, status_code=status_code, body=_as_bytes(data)
        )
    tree = value if owned and isinstance(value, dict) else copy.deepcopy(dict(value))
    found: _Found = []
    _strip(cls, tree, (), found)
    for where, extra in found:
        node: Any = tree
        for step in where:
            node = node[step]
        node[_learned.LENIENT_WIRE] = extra
    try:
        return typing.cast(M, msgspec.convert(tree, _learned.lenient_class_for(cls) if found else cls))
    except msgspec.ValidationError as exc:
        raise _validation_error(exc, path, status_code, data) from None


def _as_dict(obj: M3terModel, method: str, mode: object, **flags: object) -> dict[str, Any]:
    options = _dump_options(method, mode, flags)
    if options == _DEFAULT_DUMP:  # msgspec writes the wire form in C, then the unknown fields go back in
        out = typing.cast(dict[str, Any], msgspec.to_builtins(obj))
        _merge_extras(obj, out)
        return out
    return _dump(obj, options)


def _dump_options(method: str, mode: object, flags: dict[str, object]) -> _DumpOptions:
    """The options of ``to_dict``/``to_json`` (``method``), checked: ``mode`` and the bool keywords."""
    if mode not in ("json", "python") or not isinstance(mode, str):
        raise ValueError(f"{method}() mode= must be 'json' or 'python', not {mode!r}")
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f"{method}() {name}= must be a bool, not {type(value).__name__}")
    return _DumpOptions(
        python=mode == "python",
        use_api_names=flags["use_api_names"] is True,
        exclude_unset=flags["exclude_unset"] is True,
        exclude_defaults=flags["exclude_defaults"] is True,
        exclude_none=flags["exclude_none"] is True,
    )


def _dump_fields_of(cls: type[M3terModel]) -> tuple[_DumpField, ...]:
    cached = cls.__dict__.get("_dump_fields")
    if cached is None:
        fields = []
        for field in msgspec.structs.fields(cls):
            if field.name.startswith(_learned.EXTRA_PREFIX):
                continue
            model, is_list = _learned.nested_model(field.type)
            nested = typing.cast("type[M3terModel] | None", model)
            fields.append(_DumpField(field.encode_name, field.name, nested, is_list, not field.required))
        cached = cls._dump_fields = tuple(fields)
    return typing.cast(tuple[_DumpField, ...], cached)


def _dump(obj: M3terModel, options: _DumpOptions) -> dict[str, Any]:
    """``to_dict`` with options other than the defaults (which take ``msgspec.to_builtins``)."""
    fields = _dump_fields_of(type(obj))
    out: dict[str, Any] = {}
    for field in fields:
        value = getattr(obj, field.name)
        if value is msgspec.UNSET:
            if options.exclude_unset or options.exclude_defaults:
                continue
            value = None
        if value is None and (options.exclude_none or (options.exclude_defaults and field.optional)):
            continue
        key = field.wire if options.use_api_names else field.name
        if field.model is not None and value is not None:
            out[key] = [_dump_item(item, options) for item in value] if field.is_list else _dump_item(value, options)
        else:
            out[key] = _plain(value, options.python)
    extra = obj.additional_properties
    if extra:
        names = None if options.use_api_names else {field.name for field in fields}
        for key, value in extra.items():
            if names is not None and key in names:
                raise ValueError(
                    f"use_api_names=False: the unknown field {key!r} of {type(obj).__name__} has the attribute "
                    f"name of a declared field, so one would hide the other; use_api_names=True keeps both"
                )
            if value is None and options.exclude_none:
                continue
            out.setdefault(key, _plain(value, options.python))
    return out


def _dump_item(item: Any, options: _DumpOptions) -> Any:
    return _dump(item, options) if isinstance(item, M3terModel) else _plain(item, options.python)


def _plain(value: Any, python: bool) -> Any:
    """A field's value that holds no model: JSON types (copied), or for ``mode="python"`` the same with
    date-times, dates and enum members as they are."""
    if not python:
        return msgspec.to_builtins(value)
    if isinstance(value, dict):
        return {key: _plain(item, python) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, python) for item in value]
    return value


def _merge_extras(obj: M3terModel, out: dict[str, Any]) -> None:
    if obj._lenient_attr is not None:
        for key, item in (out.pop(_learned.LENIENT_WIRE, None) or {}).items():
            out.setdefault(key, item)
    for encode_name, (name, nested, is_list) in _plan_for(type(obj)).items():
        if nested is None or encode_name not in out:
            continue
        value = getattr(obj, name)
        if value is None:  # a null the server sent in an optional field
            continue
        if is_list:
            for element, element_out in zip(value, out[encode_name], strict=True):
                _merge_extras(element, element_out)
        else:
            _merge_extras(value, out[encode_name])


__all__ = ["M3terModel"]
