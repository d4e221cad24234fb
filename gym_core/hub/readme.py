"""The README's environment table, generated from the built-in catalog.

The table sits between two markers in README.md; `gym hub readme` rewrites what is between
them, and a test fails when the README and `rl_hub.yaml` disagree.
"""

from __future__ import annotations

from gym_core.catalog import Catalog
from gym_core.errors import ConfigError

__all__ = ["END_MARKER", "README_FILENAME", "START_MARKER", "env_table", "render_readme"]

README_FILENAME = "README.md"
START_MARKER = "<!-- envs:start (generated from rl_hub.yaml by `gym hub readme`) -->"
END_MARKER = "<!-- envs:end -->"
COLUMNS = ("Environment", "Version", "Domain", "Description", "Tags", "License")


def env_table(catalog: Catalog) -> str:
    """A Markdown table with one row per environment, sorted by name."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for name, entry in sorted(catalog.envs.items()):
        cells = [
            f"`{name}`",
            entry.version,
            entry.domain,
            entry.description,
            ", ".join(entry.tags),
            entry.license,
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def render_readme(readme: str, catalog: Catalog) -> str:
    """`readme` with the text between the markers replaced by the current table."""
    start = readme.find(START_MARKER)
    end = readme.find(END_MARKER)
    if start < 0 or end < start:
        raise ConfigError(
            f"{README_FILENAME}: no environment table markers; add the lines\n"
            f"{START_MARKER}\n{END_MARKER}\nwhere the table belongs"
        )
    before = readme[: start + len(START_MARKER)]
    return f"{before}\n{env_table(catalog)}\n{readme[end:]}"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
