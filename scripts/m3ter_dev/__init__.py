"""The project's development tools: the code behind the entry points in scripts/.

Never shipped: the harness wheel (``m3ter_contract``) and the client (``m3ter_billing``) leave it out. In
``.venv`` it is importable because the root project's editable install puts ``scripts/`` on the path
(``[tool.hatch.build] dev-mode-dirs`` in pyproject.toml); the entry points find it next to themselves.

Modules: ``layout`` (where things are, the package version), ``bootstrap`` (the pinned ``.venv``; stdlib
only, so it runs under a bare python3), ``check`` (the one check), ``regenerate`` (spec + overrides ->
generated/), ``changelog`` (generated/CHANGELOG.md), ``spec_diff`` (classify spec changes for consumers)
and ``spec_change`` (the pipeline CI wraps). Only ``layout``, ``bootstrap`` and ``check`` may be imported
before ``.venv`` exists.
"""
