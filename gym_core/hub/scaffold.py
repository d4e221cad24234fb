"""`gym hub new NAME`: a working environment project to start from.

The project is a directory named after the environment, holding its hub entry
(`rl_hub.yaml`), a package `NAME_env` with the resources server (one tool and a verifier),
five example tasks with their reference solutions and cheat probes, tests, a README and a
`pyproject.toml` that builds a wheel declaring the environment in the entry point group
`rl_gym.environments`.
As generated, it passes `gym hub validate`, and `gym serve NAME` run inside it serves it from
source (the directory is a hub of one environment; see `gym_core.hub.sources`).

The files are the templates in `template/`, with `{{name}}`, `{{Name}}`, `{{package}}` and
`{{distribution}}` filled in; `__package__` and `__name__` in a path are replaced too.
"""

from __future__ import annotations

import re
from pathlib import Path

from gym_core.errors import ConfigError

__all__ = ["ENV_NAME", "scaffold"]

ENV_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TEMPLATE_DIR = Path(__file__).parent / "template"
TEMPLATE_SUFFIX = ".tmpl"


def scaffold(name: str, parent: Path) -> Path:
    """Write the project for environment `name` into `parent / name`; return its directory."""
    if not ENV_NAME.match(name):
        raise ConfigError(
            f"{name!r} cannot name an environment: use lowercase letters, digits and "
            "underscores, starting with a letter (at most 40 characters), e.g. `word_count`"
        )
    project = parent / name
    if project.exists():
        raise ConfigError(f"{project} already exists; choose another name or --dir")
    values = {
        "name": name,
        "Name": "".join(part.capitalize() for part in name.split("_")),
        "package": f"{name}_env",
        "distribution": f"rl-gym-env-{name.replace('_', '-')}",
    }
    for template in sorted(TEMPLATE_DIR.rglob(f"*{TEMPLATE_SUFFIX}")):
        relative = str(template.relative_to(TEMPLATE_DIR)).removesuffix(TEMPLATE_SUFFIX)
        relative = relative.replace("__package__", values["package"]).replace("__name__", name)
        target = project / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_fill(template.read_text(), values))
    return project


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text
