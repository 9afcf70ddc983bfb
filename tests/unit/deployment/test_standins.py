"""The stand-in list follows the images the Dockerfiles and the compose file name, and a stand-in
is rebuilt exactly when its recipe changes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prestacop_devkit.docker_images import STANDINS, Standin, recipe_hash
from tests.unit.deployment import stack

pytestmark = pytest.mark.unit

NOT_BUILT = {"ghcr.io/kafbat/kafka-ui:v1.5.0"}
"""Named by the compose file and built by no stand-in (a jar from outside the registries)."""


def _named_images() -> set[str]:
    named = {str(s["image"]) for s in stack.compose_services().values() if "image" in s}
    for name in stack.SERVICE_NAMES:
        dockerfile = stack.service_dockerfile(name)
        text = dockerfile.path.read_text(encoding="utf-8")
        default = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
        stages = {s.name for s in dockerfile.stages}
        for stage in dockerfile.stages:
            if stage.base == "${PYTHON_IMAGE}" and default:
                named.add(default.group(1))
            elif stage.base not in stages:
                named.add(stage.base)
    return named


def test_every_image_the_project_names_has_a_stand_in_or_is_documented_as_not_built() -> None:
    assert _named_images() - NOT_BUILT == {s.name for s in STANDINS}


def test_the_recipe_hash_changes_with_the_recipe_and_only_then(tmp_path: Path) -> None:
    (tmp_path / "thing").mkdir()
    dockerfile = tmp_path / "thing" / "Dockerfile"
    dockerfile.write_text("FROM scratch\n", encoding="utf-8")
    standin = Standin("example/thing:1", "thing", ("version=1",))

    first = recipe_hash(standin, tmp_path)
    assert recipe_hash(standin, tmp_path) == first
    dockerfile.write_text("FROM scratch\nCOPY x /\n", encoding="utf-8")
    changed = recipe_hash(standin, tmp_path)
    other_input = recipe_hash(Standin("example/thing:1", "thing", ("version=2",)), tmp_path)

    assert len({first, changed, other_input}) == 3
