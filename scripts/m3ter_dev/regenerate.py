"""Regenerate generated/ from spec/ and overrides/, byte for byte; ``check()`` reports drift.

    python scripts/regenerate.py           # rewrite generated/
    python scripts/regenerate.py --check   # exit 1 and print the diff when generated/ is stale
    python scripts/regenerate.py --amend   # fold spec changes into the newest, unreleased, changelog entry

The generator (openapi-python-client) and formatter (ruff) are the versions pinned in pyproject.toml;
this refuses to run with others, because another version writes other bytes. Every file written starts
with a header naming its source (``provenance``); ``--check`` names, for each file that differs, the source
to edit, since an edit made in generated/ is overwritten by the next regeneration.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import filecmp
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import changelog, provenance
from .layout import GENERATED, OVERRIDES, PACKAGE, ROOT, SPEC, repo_path

# Every tool whose version changes the bytes written: the generator, its template engine, the formatter.
PINNED = {"openapi-python-client": "0.29.1", "jinja2": "3.1.6", "ruff": "0.17.6"}
LICENSE = ROOT / "LICENSE"
# Files the generator writes from its own (not overridden) templates, by path pattern under generated/.
BUILT_IN_TEMPLATES = {
    f"{PACKAGE}/models/__init__.py": "models_init.py.jinja",
    f"{PACKAGE}/api/__init__.py": "api_init.py.jinja",
    f"{PACKAGE}/api/*/__init__.py": "endpoint_init.py.jinja",
}


class RegenerationError(Exception):
    """The regeneration could not run (wrong tool versions, a generator or formatter failure, a bad spec)."""


def check_pins() -> None:
    """Raise RegenerationError unless every tool in PINNED is installed at its pinned version."""
    for name, version in PINNED.items():
        try:
            found = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            raise RegenerationError(
                f"{name} is not installed ({version} is pinned); run python3 scripts/bootstrap.py"
            ) from None
        if found != version:
            raise RegenerationError(
                f"{name} {found} is installed, {version} is pinned; run python3 scripts/bootstrap.py"
            )


def _run(args: list[str], cwd: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RegenerationError(f"{' '.join(args[:3])} failed:\n{result.stdout}\n{result.stderr}")


# Keys under which a schema holds data, not subschemas: a `const` inside them is not a schema's.
_DATA_KEYS = frozenset({"example", "examples", "default", "enum", "const"})
# Keys whose value maps names to objects: a member named "const" there is a name, not the keyword.
_NAME_MAPS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "schemas", "paths", "responses",
     "parameters", "headers", "content", "links", "callbacks", "securitySchemes", "requestBodies", "encoding",
     "variables", "webhooks", "pathItems", "mapping"}
)  # fmt: skip


def _schemas(node: Any, at: str = "#", names: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object of the spec in a schema's place, with its JSON pointer: not data (``example``, ``enum``,
    ``x-*``, ...) and not a map of names (``properties`` itself),."""
    if isinstance(node, dict):
        if not names:
            yield at, node
        for key, value in node.items():
            if names or (key not in _DATA_KEYS and not (isinstance(key, str) and key.startswith("x-"))):
                where = f"{at}/{str(key).replace('~', '~0').replace('/', '~1')}"
                yield from _schemas(value, where, not names and key in _NAME_MAPS)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schemas(value, f"{at}/{index}")


def _const_as_enum(doc: dict[str, Any]) -> bool:
    """Rewrite, in place, each schema's string or integer ``const: X`` as ``enum: [X]``; True when any was.

    The same contract on the wire (spec_diff calls the change "unchanged"), and the same Python: the
    generator would write a closed ``Literal`` that fails the whole response on a value m3ter adds later;
    a one-member enum becomes an open enum (``_enum.py``) that keeps it. The generator reads a boolean const
    as ``bool``; any other const (a fraction, an object, an array) is refused, as no model can type it.
    """
    changed = False
    for at, node in list(_schemas(doc)):
        const = node.get("const")
        types = node.get("type")
        kinds = {types} if isinstance(types, str) else set(types) if isinstance(types, list) else set()
        integer = "integer" in kinds and "number" not in kinds
        if "const" not in node or const is None or isinstance(const, bool):
            continue
        if isinstance(const, str) or (isinstance(const, int) and integer):
            if "enum" not in node:
                node["enum"] = [node.pop("const")]
                changed = True
        else:
            raise RegenerationError(
                f"{at}/const: {json.dumps(const, default=str)[:60]} cannot be typed in a model (a const must be a "
                "string, a boolean, or an integer of a `type: integer` schema); describe the value with type and "
                "enum instead"
            )
    return changed


def _property_names(doc: dict[str, Any], schema: dict[str, Any], seen: frozenset[int] = frozenset()) -> list[str]:
    """The wire names of a schema's properties, with those of its ``allOf`` parts (local references followed):
    the generator makes one model of them all."""
    if id(schema) in seen:
        return []
    seen |= {id(schema)}
    properties = schema.get("properties")
    found = [str(name) for name in properties] if isinstance(properties, dict) else []
    parts = schema.get("allOf")
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, dict) and isinstance(part.get("$ref"), str) and part["$ref"].startswith("#/"):
            target: Any = doc
            for token in part["$ref"][2:].split("/"):
                token = token.replace("~1", "/").replace("~0", "~")
                target = target.get(token) if isinstance(target, dict) else None
            part = target
        if isinstance(part, dict):
            found += [name for name in _property_names(doc, part, seen) if name not in found]
    return found


def _check_property_names(doc: dict[str, Any], field_prefix: str) -> None:
    """Refuse two properties of one schema that become the same Python attribute (``billTotal`` and
    ``bill-total`` are both ``bill_total``). The generator would name both after their wire names instead
    (``billTotal``, ``bill-total``), silently renaming the attribute code already uses: a breaking change that
    the spec diff, which sees only a new optional property, would call compatible."""
    from openapi_python_client.strings import PythonIdentifier  # here: check_pins explains a missing one

    clashes: list[str] = []
    for at, schema in _schemas(doc):
        by_python: dict[str, list[str]] = {}
        for name in _property_names(doc, schema):
            by_python.setdefault(str(PythonIdentifier(name, prefix=field_prefix)), []).append(name)
        clashes += [
            f"{at}: properties {' and '.join(json.dumps(name) for name in wire)} map to one Python attribute, {python}"
            for python, wire in by_python.items()
            if len(wire) > 1
        ]
    if clashes:
        raise RegenerationError(
            "; ".join(dict.fromkeys(clashes)) + " (the generator would name each after its wire name, renaming "
            "the existing attribute): rename one in the spec, or leave it out"
        )


def _name_enum_members(doc: dict[str, Any]) -> bool:
    """Name the members of every string enum after their values; True when any enum was given names.

    The generator names a member after its value (``APPROVED``) when the value starts with a letter, else after
    its position (``30DAY``, third, is ``VALUE_2``), so inserting a value before it renamed the member: a break
    of code using it, which the changelog calls a new value. An enum with such a value gets ``x-enum-varnames``
    (the generator's own extension; one the spec gives is kept): the letter-led values keep the generator's
    names, the others become ``VALUE_<value>`` (``VALUE_30DAY``). Two values with one member name are refused.
    """
    from openapi_python_client.strings import snake_case  # here: check_pins explains a missing one

    changed = False
    for at, schema in list(_schemas(doc)):
        values = schema.get("enum")
        if not isinstance(values, list) or "x-enum-varnames" in schema:
            continue
        values = [value for value in values if value is not None]  # null makes the property nullable
        if not values or not all(isinstance(value, str) for value in values):
            continue
        names = [value.upper() if value[:1].isalpha() else f"VALUE_{value}" for value in values]
        members: dict[str, str] = {}
        for value, name in zip(values, names, strict=True):
            member = snake_case(name).upper()
            if member in members:
                raise RegenerationError(
                    f"{at}/enum: values {json.dumps(members[member])} and {json.dumps(value)} would both be the "
                    f"member {member}; name the members with x-enum-varnames"
                )
            members[member] = value
        if names != [value.upper() for value in values]:
            schema["x-enum-varnames"] = names
            changed = True
    return changed


def _generate(
    destination: Path, spec: Path, overrides: Path, version: str, doc: dict[str, Any], config: dict[str, Any]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rewritten = _const_as_enum(doc)
        if _name_enum_members(doc) or rewritten:  # the generator reads the rewritten spec; the untouched one otherwise
            spec = Path(tmp) / "openapi.yaml"
            spec.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
        config = {**config, "package_version_override": version}
        config_path = Path(tmp) / "config.yaml"
        config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        _run(
            [
                sys.executable,
                "-m",
                "openapi_python_client",
                "generate",
                "--path",
                str(spec),
                "--config",
                str(config_path),
                "--custom-template-path",
                str(overrides / "templates"),
                "--meta",
                "uv",
                "--output-path",
                str(destination),
                "--fail-on-warning",
            ],
            cwd=Path(tmp),
        )


# What overrides/templates/endpoint_module.py.jinja writes, instead of the module, for an operation without a
# 2xx response the generator could read.
_NO_SUCCESS = "ENDPOINT_WITHOUT_SUCCESS_RESPONSE = "


def _check_endpoints(destination: Path) -> None:
    """Refuse an operation the endpoint template could not write: it has no 2xx response with a body."""
    missing = [
        line.removeprefix(_NO_SUCCESS).strip().strip('"')
        for path in sorted((destination / PACKAGE / "api").rglob("*.py"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith(_NO_SUCCESS)
    ]
    if missing:
        raise RegenerationError(
            f"operations without a 2xx response with a JSON body: {', '.join(missing)}; every operation needs one "
            "(the endpoint module parses it into its model)"
        )


def _add_headers(destination: Path, spec: Path, overrides: Path, version: str) -> None:
    """Copy the hand-written modules and the license in; head the built-in templates' output."""
    for module in sorted((overrides / "package").glob("*.py")):
        target = destination / PACKAGE / module.name
        text = provenance.with_header(target, module.read_text(encoding="utf-8"), [repo_path(module)])
        target.write_text(text, encoding="utf-8")
    for pattern, template in BUILT_IN_TEMPLATES.items():
        for target in sorted(destination.glob(pattern)):
            sources = [repo_path(spec), f"openapi-python-client's built-in {template}"]
            text = provenance.with_header(target, target.read_text(encoding="utf-8"), sources)
            target.write_text(text, encoding="utf-8")
    version_module = destination / PACKAGE / "_version.py"
    version_module.write_text(
        provenance.with_header(
            version_module,
            f'"""The package version: the spec\'s info.version and overrides/REVISION."""\n\n'
            f'__version__ = "{version}"\n',
            [repo_path(spec), repo_path(overrides / "REVISION")],
        ),
        encoding="utf-8",
    )
    (destination / PACKAGE / "py.typed").write_text("", encoding="utf-8")
    shutil.copyfile(LICENSE, destination / "LICENSE")


def build(destination: Path, spec: Path = SPEC, overrides: Path = OVERRIDES, amend: bool = False) -> None:
    """Write the generated project for ``spec`` + ``overrides`` into ``destination`` (which must not exist).
    ``amend``: the newest changelog entry is not released yet, so a spec change under its version is folded
    into it (``changelog.plan``); otherwise refused."""
    try:  # the spec read once, as the tools read it (no key twice, no alias bomb, a version), before the generator
        doc, version = changelog.read_spec(spec, overrides)
    except changelog.VersionError as exc:
        raise RegenerationError(str(exc)) from None
    config = yaml.safe_load((overrides / "config.yaml").read_text(encoding="utf-8"))
    _check_property_names(doc, str(config.get("field_prefix", "field_")))
    _generate(destination, spec, overrides, version, doc, config)
    _check_endpoints(destination)
    _add_headers(destination, spec, overrides, version)
    gitignore = destination / ".gitignore"
    if gitignore.exists():
        gitignore.unlink()
    try:
        changelog.update(destination, GENERATED if spec == SPEC else None, spec, version, amend)
    except changelog.VersionError as exc:
        raise RegenerationError(str(exc)) from exc
    ruff = [sys.executable, "-m", "ruff"]
    _run([*ruff, "check", "--no-cache", "--fix", "--quiet", "."], cwd=destination)
    _run([*ruff, "format", "--no-cache", "--quiet", "."], cwd=destination)
    _check_field_names(destination)
    headless = [rel for rel in sorted(_files(destination)) if source_of(destination / rel) is None]
    if headless:
        raise RegenerationError(
            "generated files without a header naming their source (add one to the template, or to "
            f"BUILT_IN_TEMPLATES in {__name__}): " + ", ".join(map(str, headless))
        )


def source_of(path: Path) -> list[str] | None:
    """The sources a generated file names in its header ([] for the files exempt from headers)."""
    if path.name in provenance.EXEMPT:
        return []
    try:
        return provenance.sources_of(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return None


def _files(root: Path) -> set[Path]:
    ignored = {"__pycache__", ".ruff_cache", ".mypy_cache", ".pytest_cache"}
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file() and not ignored.intersection(p.parts)}


def _lines(path: Path) -> list[str] | None:
    """The file's lines, or None when it is not UTF-8 text (a binary file is reported, not diffed)."""
    try:
        return path.read_text(encoding="utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True)
class Drift:
    """How generated/ differs from a fresh regeneration: a unified diff, and the sources to edit."""

    diff: str
    edit: dict[str, list[str]]  # generated/<file> -> the sources its fresh header names

    @property
    def stale(self) -> bool:
        return bool(self.diff)

    def advice(self) -> str:
        """What to do, file by file: the source to edit (generated/ is overwritten by every regeneration)."""
        if not self.stale:
            return "generated/ is up to date"
        lines = ["generated/ is stale: it differs from a fresh regeneration of spec/ + overrides/."]
        for name, sources in sorted(self.edit.items()):
            if sources:
                lines.append(f"  {name}: generated from {', '.join(sources)}")
            else:
                lines.append(f"  {name}: no longer generated (remove it)")
        lines.append(
            "An edit made in generated/ is lost on regeneration: make it in the source named above (the spec, a "
            "template in overrides/templates/ or a module in overrides/package/), then run "
            "`python scripts/regenerate.py` and commit generated/ with it."
        )
        return "\n".join(lines)


def _executable(path: Path) -> bool:
    """Whether the file has an executable bit: the one mode git records (100755 or 100644)."""
    return bool(path.stat().st_mode & 0o111)


def diff(fresh: Path, committed: Path) -> Drift:
    """How ``committed`` differs from ``fresh`` (an empty diff when they are the same)."""
    out: list[str] = []
    edit: dict[str, list[str]] = {}
    fresh_files, committed_files = _files(fresh), _files(committed) if committed.exists() else set()
    for rel in sorted(fresh_files | committed_files):
        a, b = committed / rel, fresh / rel
        if rel in fresh_files and rel in committed_files and _executable(a) != _executable(b):
            edit[f"generated/{rel.as_posix()}"] = source_of(b) or []
            modes = ("100755", "100644") if _executable(a) else ("100644", "100755")
            out.append(f"generated/{rel}: mode {modes[0]}, a regeneration's {modes[1]}\n")
        if rel in fresh_files and rel in committed_files and filecmp.cmp(a, b, shallow=False):
            continue
        edit[f"generated/{rel.as_posix()}"] = (source_of(b) or []) if rel in fresh_files else []
        old = _lines(a) if rel in committed_files else []
        new = _lines(b) if rel in fresh_files else []
        if old is None or new is None:
            out.append(f"Binary files generated/{rel} and regenerated/{rel} differ\n")
            continue
        out.extend(difflib.unified_diff(old, new, f"generated/{rel}", f"regenerated/{rel}"))
        if not out or not out[-1].endswith("\n"):
            out.append("\n")
    return Drift("".join(out), edit)


def _defined(tree: ast.Module, class_name: str) -> set[str]:
    """The names a class of ``tree`` defines in its body: methods, properties, class attributes."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id)
                elif isinstance(item, ast.Assign):
                    names.update(target.id for target in item.targets if isinstance(target, ast.Name))
    return names


def _referenced(body: list[ast.stmt]) -> set[str]:
    """The names a class body reads: in its annotations and in the values it assigns (``msgspec`` of
    ``msgspec.field(...)``, ``UNSET``, the types), which a class attribute of the same name would shadow."""
    names: set[str] = set()
    for item in body:
        parts = [item.annotation, item.value] if isinstance(item, ast.AnnAssign) else [item]
        for part in parts:
            if part is not None:
                names.update(n.id for n in ast.walk(part) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
    return names


def _check_field_names(destination: Path) -> None:
    """Refuse a model field whose Python name is one the models' base class uses (``to_dict``, ``from_json``,
    ``additional_properties``, ...) or one the generated class bodies read (``msgspec``): the generator
    renames Python keywords, builtins and names that are not identifiers, but a field named like a method
    would shadow it (mypy fails, and ``model.to_dict()`` calls a string), and a field named ``msgspec`` turns
    every later ``msgspec.field(...)`` of its class into an ``AttributeError`` at import. The second set is
    read from the models written (``overrides/templates/model.py.jinja``), so it follows the template."""
    package = destination / PACKAGE
    model = ast.parse((package / "_model.py").read_text(encoding="utf-8"))
    reserved = _defined(model, "M3terModel")
    models: list[tuple[str, set[str]]] = []
    for path in sorted((package / "models").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and base.id == "M3terModel" for base in node.bases
            ):
                reserved |= _referenced(node.body)
                fields = {
                    item.target.id
                    for item in node.body
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                }
                models.append((node.name, fields))
    clashes = [f"{name}.{field}" for name, fields in models for field in sorted(fields & reserved)]
    if clashes:
        raise RegenerationError(
            "a property of the spec would become a model field named like a member every model has or a name the "
            f"generated class bodies read, which it would shadow: {', '.join(clashes)}; the generator renames only "
            "keywords, builtins and names that are not identifiers, so rename the member in "
            "overrides/package/_model.py (the name in overrides/templates/model.py.jinja) or leave the property "
            "out of spec/"
        )


def check(committed: Path = GENERATED) -> Drift:
    """Regenerate into a temporary directory and compare with ``committed``; writes nothing."""
    check_pins()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "generated"
        build(fresh)
        return diff(fresh, committed)


def rewrite(target: Path = GENERATED, amend: bool = False) -> bool:
    """Regenerate ``target`` in place; True when anything changed. The new tree is built in a temporary
    directory (as :func:`check` builds it: no configuration of this repository around it), copied beside
    ``target`` and swapped in by two renames, so a failure or an interruption leaves the old tree or the new
    one whole (for the instant between the renames, the old one under ``.<name>.*/old``), never a half-deleted
    one. ``amend``: as for :func:`build`."""
    check_pins()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "generated"
        build(fresh, amend=amend)
        changed = diff(fresh, target).stale
        if changed:
            with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as swap:
                staged, old = Path(swap) / "new", Path(swap) / "old"
                shutil.copytree(fresh, staged)
                if target.exists():
                    target.rename(old)
                staged.rename(target)
        return changed


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 done (or up to date), 1 generated/ is stale (``--check``), 2 the regeneration failed."""
    parser = argparse.ArgumentParser(
        prog="regenerate.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if generated/ is stale")
    parser.add_argument(
        "--amend",
        action="store_true",
        help="fold spec changes into the newest changelog entry, whose version must not be released yet (one this "
        "branch introduced); without it a spec change needs a new info.version",
    )
    args = parser.parse_args(argv)
    if args.check and args.amend:
        parser.error("--amend rewrites generated/; --check writes nothing")
    try:
        if args.check:
            drift = check()
            if drift.stale:
                sys.stdout.write(drift.diff)
                print(drift.advice(), file=sys.stderr)
                return 1
            print(drift.advice())
            return 0
        print("generated/ rewritten" if rewrite(amend=args.amend) else "generated/ already up to date")
    except RegenerationError as exc:
        print(f"regenerate: {exc}", file=sys.stderr)
        return 2
    return 0
