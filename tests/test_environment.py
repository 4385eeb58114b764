"""environment.yml (conda) and pyproject.toml (pip) list the same packages."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower()


def pyproject_packages() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {_name(r): r.replace(" ", "") for r in reqs}


def conda_packages() -> dict[str, str]:
    found = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        m = re.match(r"^\s*-\s+([A-Za-z0-9_.\-]+)(.*)$", line)
        if not m or m.group(1) in ("python", "pip"):
            continue
        name = CONDA_NAMES.get(m.group(1).lower(), m.group(1).lower())
        found[name] = name + m.group(2).strip().replace(" ", "")
    return found


def test_same_packages():
    pip, conda = pyproject_packages(), conda_packages()
    assert set(pip) == set(conda), f"only in pyproject: {set(pip) - set(conda)}; only in environment.yml: {set(conda) - set(pip)}"


def test_same_version_ranges():
    pip, conda = pyproject_packages(), conda_packages()
    for name, req in pip.items():
        assert req.lower() == conda[name].lower(), f"{name}: pyproject says {req}, environment.yml says {conda[name]}"


def test_no_hard_pins():
    for req in pyproject_packages().values():
        assert "==" not in req, f"use a version range, not a pin: {req}"


def test_torch_and_torchvision_travel_together():
    """They are released in pairs: wherever one is required, so is the other."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for name, reqs in project["optional-dependencies"].items():
        names = {_name(r) for r in reqs}
        assert ("torch" in names) == ("torchvision" in names), f"extra [{name}] lists only one of torch/torchvision"
    assert {"torch", "torchvision"} <= {_name(r) for r in project["optional-dependencies"]["test"]}
    assert {"torch", "torchvision"} <= set(conda_packages())
    assert not {"torch", "torchvision"} & {_name(r) for r in project["dependencies"]}  # import dlcore stays light
