"""A client-only install (`pip install rl-gym`, no extras) compiles nothing: every package it
resolves to in uv.lock ships a wheel this Linux machine can take, save sdists known to be pure
Python. Read from the lock, so a dependency that brings a C build is caught offline."""

from __future__ import annotations

import tomllib
from typing import Any

from tests.fixtures.serving import ROOT

PURE_PYTHON_SDISTS = {"langdetect"}
"""Published as sources only, built without a compiler (setuptools, no extension modules)."""


def _packages() -> dict[str, list[dict[str, Any]]]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    found: dict[str, list[dict[str, Any]]] = {}
    for package in lock["package"]:
        found.setdefault(package["name"], []).append(package)
    return found


def _closure(root: str) -> dict[str, dict[str, Any]]:
    """The packages `root` installs without extras (markers ignored: a superset)."""
    packages = _packages()
    seen: dict[str, dict[str, Any]] = {}
    pending: list[tuple[dict[str, Any], list[str]]] = [(packages[root][0], [])]
    while pending:
        package, extras = pending.pop()
        wanted = list(package.get("dependencies", []))
        for extra in extras:
            wanted += package.get("optional-dependencies", {}).get(extra, [])
        for dependency in wanted:
            candidates = packages[dependency["name"]]
            version = dependency.get("version")
            chosen = next(c for c in candidates if version in (None, c["version"]))
            key = f"{chosen['name']}=={chosen['version']}"
            if key not in seen or dependency.get("extra"):
                seen[key] = chosen
                pending.append((chosen, dependency.get("extra", [])))
    return seen


def _installs_without_a_compiler(package: dict[str, Any]) -> bool:
    if package["name"] in PURE_PYTHON_SDISTS:
        return True
    wheels = [wheel["url"].rsplit("/", 1)[-1] for wheel in package.get("wheels", [])]
    return any(
        name.endswith("-none-any.whl") or ("linux" in name and "x86_64" in name) for name in wheels
    )


def test_a_client_only_install_compiles_nothing() -> None:
    closure = _closure("rl-gym")
    assert "pydantic==" in " ".join(closure)  # the closure was walked
    compiled = sorted(
        key for key, package in closure.items() if not _installs_without_a_compiler(package)
    )
    assert compiled == []
    assert not any(key.startswith(("llama-cpp-python==", "torch==")) for key in closure)
