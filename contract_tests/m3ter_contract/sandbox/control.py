"""The control plane of ``m3ter-sandbox serve --control``: what a process holding only the server's URL (a test
suite in another process or language, a CI script) may do to the sandbox, under ``/_sandbox/``. No m3ter API path
starts with that prefix, only that literal prefix of the raw path reaches the control plane (``/%5Fsandbox/...``,
``/organizations/_sandbox/...`` are the API's 404), and nothing under it reaches the API.

Every request carries the server's control token (``Authorization: Bearer <token>``: 401 without one, 403 with
another; compared in constant time). Answers are JSON, errors ``{"error": code, "message": ...}`` with a 4xx
status (never a traceback, never the token). Control requests are not in ``Sandbox.requests``, consume no fault
and count against no rate limit.

    GET    /_sandbox/summary   what was seeded (ids, by name too), the primary credentials, the clock
    POST   /_sandbox/advance   {"seconds": 60}: move the ManualClock (409 when the sandbox runs on another clock)
    GET    /_sandbox/faults    the faults that never acted on a response, and the presets POST takes
    POST   /_sandbox/faults    {"preset": "server_errors", "args": {"count": 2, "operation": "GetBill"}}
    DELETE /_sandbox/faults    remove every fault and mutation
    POST   /_sandbox/reset     Sandbox.reset(); answers the summary
"""

from __future__ import annotations

import hmac
import inspect
import json
import math
import re
import secrets
import types
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from .clock import ManualClock, iso_datetime
from .core import Sandbox
from .entities import SandboxError
from .faults import FaultPresets
from .messages import Request, Response, json_response

PREFIX = "/_sandbox"
LATEST = datetime(9000, 1, 1, tzinfo=UTC).timestamp()
"""How far the clock may be advanced over HTTP: the sandbox writes dates up to the year 9999."""
_TOKEN = re.compile(r"[\x21-\x7e]{16,}")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_TYPE_NAMES: dict[Any, str] = {
    int: "a whole number",
    float: "a finite number",
    str: "a string",
    bool: "true or false",
    type(None): "null",
}
Body = dict[str, Any]


def new_token() -> str:
    """A random control token (256 bits)."""
    return secrets.token_urlsafe(32)


def is_control_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class ControlError(Exception):
    """A refused control request: its status, a stable ``code`` and a message naming what is wrong."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.extra = extra

    def response(self) -> Response:
        return _answer(self.status, {"error": self.code, "message": str(self), **self.extra})


class ControlPlane:
    """A handler (the :class:`Handler` protocol) serving ``sandbox``'s API, and the control plane under
    ``/_sandbox/`` for requests carrying ``token``. ``token=None`` turns the control plane off: its paths answer
    404 ``control_disabled``."""

    def __init__(self, sandbox: Sandbox, token: str | None) -> None:
        if token is not None and not _TOKEN.fullmatch(token):
            raise ValueError("a control token is at least 16 printable ASCII characters without spaces")
        self.sandbox = sandbox
        self._token = None if token is None else token.encode()
        self._routes: dict[str, dict[str, Callable[[Body], Body]]] = {
            f"{PREFIX}/summary": {"GET": lambda body: self._summary()},
            f"{PREFIX}/advance": {"POST": self._advance},
            f"{PREFIX}/faults": {"GET": self._faults, "POST": self._queue, "DELETE": self._clear},
            f"{PREFIX}/reset": {"POST": self._reset},
        }

    def __repr__(self) -> str:
        return f"ControlPlane({self.sandbox!r}, enabled={self._token is not None})"

    # ---- the Handler protocol ----------------------------------------------------------------------------

    @property
    def max_request_body(self) -> int:
        return self.sandbox.max_request_body

    def wants_body(self, method: str, path: str, headers: Mapping[str, str]) -> bool:
        if is_control_path(path):  # only an authorized request's body is read
            return method == "POST" and self._refusal(headers) is None
        return self.sandbox.wants_body(method, path, headers)

    def refuse(self, request: Request, status: int, message: str) -> Response:
        if is_control_path(request.path):
            return ControlError(status, "too_large" if status == 413 else "refused", message).response()
        return self.sandbox.refuse(request, status, message)

    def handle(self, request: Request) -> Response:
        if not is_control_path(request.path):
            return self.sandbox.handle(request)
        try:
            return _answer(200, self._control(request))
        except ControlError as refused:
            return refused.response()
        except Exception as exc:  # a bug of the sandbox: still a JSON answer, no traceback on the wire
            return ControlError(500, "internal_error", f"the control plane failed ({type(exc).__name__})").response()

    # ---- control ------------------------------------------------------------------------------------------

    def _refusal(self, headers: Mapping[str, str]) -> ControlError | None:
        if self._token is None:
            return ControlError(404, "control_disabled", "the control plane is off: serve with --control to use it")
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return ControlError(401, "unauthorized", "send the control token: Authorization: Bearer <token>")
        if not hmac.compare_digest(value.strip().encode("utf-8", "surrogatepass"), self._token):
            return ControlError(403, "forbidden", "that is not this server's control token")
        return None

    def _control(self, request: Request) -> Body:
        refused = self._refusal(request.headers)
        if refused is not None:
            raise refused
        methods = self._routes.get(request.path)
        if methods is None:
            known = ", ".join(f"{m} {path}" for path, routes in self._routes.items() for m in routes)
            raise ControlError(404, "not_found", f"no control endpoint {request.path}; the endpoints: {known}")
        route = methods.get(request.method)
        if route is None:
            allowed = ", ".join(methods)
            raise ControlError(405, "method_not_allowed", f"{request.path} takes {allowed}", allow=list(methods))
        return route(_body(request.body) if request.method == "POST" else {})

    def _summary(self) -> Body:
        sandbox, seeded = self.sandbox, self.sandbox.seeded
        now = sandbox.clock.now()
        return {
            **sandbox.summary(),
            "seeded": {"other_org_id": seeded.other_org_id, "bills": dict(seeded.bills), "jobs": dict(seeded.jobs)},
            "clock": {"now": iso_datetime(now), "epoch": now, "manual": isinstance(sandbox.clock, ManualClock)},
        }

    def _advance(self, body: Body) -> Body:
        _only(body, "advance", "seconds")
        clock = self.sandbox.clock
        if not isinstance(clock, ManualClock):
            raise ControlError(409, "no_manual_clock", f"this sandbox runs on {clock!r}; serve with --manual-clock")
        seconds = body.get("seconds")
        if not isinstance(seconds, int | float) or not _fits(seconds, float) or seconds < 0:
            raise ControlError(400, "bad_request", f'advance takes {{"seconds": N}}, N >= 0; not {_show(seconds)}')
        if clock.now() + seconds >= LATEST:
            past = iso_datetime(LATEST)
            raise ControlError(400, "bad_request", f"{_show(seconds)} s would move the clock past {past}")
        now = clock.advance(seconds)
        return {"now": iso_datetime(now), "epoch": now}

    def _faults(self, body: Body) -> Body:
        presets = {name: {arg: _describe_arg(preset, arg) for arg in preset.args} for name, preset in PRESETS.items()}
        return {"unused": self.sandbox.faults.unused(), "presets": presets}

    def _queue(self, body: Body) -> Body:
        _only(body, "faults", "preset", "args")
        name, args = body.get("preset"), body.get("args", {})
        if not isinstance(name, str) or name not in PRESETS:
            problem = f"unknown preset {_show(name)}" if "preset" in body else 'name a preset: {"preset": NAME}'
            known = sorted(PRESETS)
            raise ControlError(400, "unknown_preset", f"{problem}; the presets: {', '.join(known)}", known=known)
        if not isinstance(args, dict):
            raise ControlError(400, "bad_request", f'"args" is a JSON object of the arguments, not {_show(args)}')
        preset = PRESETS[name]
        preset.check(args)
        try:
            getattr(self.sandbox.faults, name)(**args)
        except ValueError as exc:
            raise ControlError(400, "bad_request", f"{name}: {exc}") from None
        except SandboxError as exc:
            raise ControlError(exc.status, "unknown_entity" if exc.status == 404 else "refused", str(exc)) from None
        return {"queued": name, "unused": self.sandbox.faults.unused()}

    def _clear(self, body: Body) -> Body:
        self.sandbox.faults.clear()
        return {"unused": []}

    def _reset(self, body: Body) -> Body:
        _only(body, "reset")
        self.sandbox.reset()
        return self._summary()


class Preset:
    """A method of :class:`FaultPresets` whose arguments are all JSON values, with their types."""

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name = name
        parameters = list(inspect.signature(fn).parameters.values())[1:]  # after self
        hints = get_type_hints(fn)
        self.args = {parameter.name: hints[parameter.name] for parameter in parameters}
        self.required = [parameter.name for parameter in parameters if parameter.default is parameter.empty]

    def check(self, args: Body) -> None:
        for arg, value in args.items():
            if arg not in self.args:
                takes = ", ".join(self.args)
                raise ControlError(400, "bad_request", f"{self.name} takes no argument {arg!r}; it takes: {takes}")
            if not _fits(value, self.args[arg]):
                wanted = _describe(self.args[arg])
                raise ControlError(400, "bad_request", f"{self.name}: {arg} must be {wanted}, not {_show(value)}")
            if isinstance(value, str) and _CONTROL_CHARACTERS.search(value):  # some become header values
                raise ControlError(400, "bad_request", f"{self.name}: {arg} holds a control character: {_show(value)}")
        missing = [arg for arg in self.required if arg not in args]
        if missing:
            raise ControlError(400, "bad_request", f"{self.name} needs {', '.join(missing)}")


def _presets() -> dict[str, Preset]:
    """Every preset of ``sandbox.faults`` but those that take a Python function (``rewrite_body``)."""
    found = {}
    for name, fn in vars(FaultPresets).items():
        if name.startswith("_") or name in ("clear", "unused") or not inspect.isfunction(fn):
            continue
        preset = Preset(name, fn)
        if all(_is_json(hint) for hint in preset.args.values()):
            found[name] = preset
    return found


def _is_json(hint: Any) -> bool:
    if hint is Any or hint in _TYPE_NAMES:
        return True
    if get_origin(hint) is Literal:
        return all(isinstance(value, str) for value in get_args(hint))
    return get_origin(hint) in (Union, types.UnionType) and all(_is_json(arg) for arg in get_args(hint))


def _fits(value: Any, hint: Any) -> bool:
    origin = get_origin(hint)
    if hint is Any:
        return True
    if origin is Literal:
        return isinstance(value, str) and value in get_args(hint)
    if origin in (Union, types.UnionType):
        return any(_fits(value, arg) for arg in get_args(hint))
    if hint is bool or isinstance(value, bool):
        return hint is bool and isinstance(value, bool)
    if hint is float and isinstance(value, int | float):
        try:
            return math.isfinite(value)
        except OverflowError:  # an int too large for a float
            return False
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    if hint is Any:
        return "any JSON value"
    if get_origin(hint) is Literal:
        return "one of " + ", ".join(json.dumps(value) for value in get_args(hint))
    if get_origin(hint) in (Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in get_args(hint))
    return _TYPE_NAMES[hint]


def _describe_arg(preset: Preset, arg: str) -> str:
    return _describe(preset.args[arg]) + (" (required)" if arg in preset.required else "")


def _show(value: Any) -> str:
    """A value of the request as JSON, cut short."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _only(body: Body, endpoint: str, *keys: str) -> None:
    unknown = sorted(set(body) - set(keys))
    if unknown:
        takes = ", ".join(keys) or "no member"
        raise ControlError(400, "bad_request", f"{endpoint} takes {takes}, not {', '.join(map(repr, unknown))}")


def _body(raw: bytes) -> Body:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, object_pairs_hook=_one_of_each)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        problem = "nested too deep" if isinstance(exc, RecursionError) else str(exc)
        raise ControlError(400, "bad_json", f"the body is not JSON: {problem}") from None
    if not isinstance(body, dict):
        raise ControlError(400, "bad_request", f"the body is a JSON object, not {type(body).__name__}")
    return body


def _one_of_each(pairs: list[tuple[str, Any]]) -> Body:
    """A JSON object whose members are named once each (``{"seconds": 1, "seconds": 2}`` is refused)."""
    body = dict(pairs)
    if len(body) != len(pairs):
        names = [name for name, _ in pairs]
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"member {', '.join(map(repr, twice))} given twice")
    return body


def _answer(status: int, data: Body) -> Response:
    headers = [("cache-control", "no-store")]
    if status == 401:
        headers.append(("www-authenticate", 'Bearer realm="m3ter-sandbox control"'))
    if status == 405:
        headers.append(("allow", ", ".join(data.get("allow", []))))
    return json_response(status, data, headers)


PRESETS = _presets()
"""The fault presets the control plane queues, by name."""

__all__ = ["LATEST", "PREFIX", "PRESETS", "ControlError", "ControlPlane", "is_control_path", "new_token"]
