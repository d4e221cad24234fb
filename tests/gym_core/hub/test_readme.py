"""The README's environment table is generated from rl_hub.yaml, and must match it."""

from __future__ import annotations

import pytest

from gym_core.catalog import Catalog, default_catalog_path, load_catalog
from gym_core.cli import main
from gym_core.errors import ConfigError
from gym_core.hub.readme import END_MARKER, README_FILENAME, START_MARKER, render_readme


def test_the_readme_table_matches_the_catalog() -> None:
    readme = default_catalog_path().parent / README_FILENAME
    current = readme.read_text()
    assert render_readme(current, load_catalog(default_catalog_path())) == current, (
        "README.md's environment table differs from rl_hub.yaml: run `gym hub readme`"
    )
    assert main(["hub", "readme", "--check"]) == 0


def catalog(description: str) -> Catalog:
    entry = {
        "version": "1.0.0",
        "description": description,
        "domain": "test",
        "tags": ["a", "b"],
        "license": "MIT",
        "server": "x.server:Server",
        "datasets": {"example": "data.jsonl"},
    }
    return Catalog.model_validate({"envs": {"zeta": entry, "alpha": entry}})


def test_the_table_replaces_what_is_between_the_markers() -> None:
    readme = f"# Title\n\n{START_MARKER}\nstale\n{END_MARKER}\n\nafter\n"
    rendered = render_readme(readme, catalog("Pipes | and\nnew lines."))
    assert rendered.startswith(f"# Title\n\n{START_MARKER}\n| Environment |")
    assert rendered.endswith(f"{END_MARKER}\n\nafter\n")
    assert "stale" not in rendered
    rows = rendered.split(START_MARKER)[1].split(END_MARKER)[0].strip().splitlines()
    assert rows[2] == "| `alpha` | 1.0.0 | test | Pipes \\| and new lines. | a, b | MIT |"
    assert rows[3].startswith("| `zeta` |")
    assert render_readme(rendered, catalog("Pipes | and\nnew lines.")) == rendered


def test_a_readme_without_markers_says_where_the_table_goes() -> None:
    with pytest.raises(ConfigError, match="no environment table markers; add the lines"):
        render_readme("# Title\n", catalog("x"))
