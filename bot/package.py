"""Builds the Teams app package: `python -m bot.package` (or `./dev package`).

Fills the `${{NAME}}` placeholders of `appPackage/manifest.json` from the environment (TEAMS_APP_ID and
BOT_ID are required GUIDs; APP_NAME_SUFFIX is optional), checks the result against the official Teams
manifest schema (v1.19, draft-04, shipped in `bot/schemas/`) and the icon rules, and writes
`appPackage/build/appPackage.zip` with manifest.json, color.png and outline.png at its root.
Exit status 0 on success; 1 with one specific message per problem on standard error otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from PIL import Image

from core.errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "teams-manifest-1.19.schema.json"
PLACEHOLDER = re.compile(r"\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
REQUIRED_GUIDS = {
    "TEAMS_APP_ID": "the Teams app's id (any GUID of yours, e.g. from `uuidgen`; keep it for updates)",
    "BOT_ID": "the Azure Bot's Entra app registration id (a GUID)",
}
OPTIONAL_DEFAULTS = {"APP_NAME_SUFFIX": ""}
ICON_SIZES = {"color": (192, 192), "outline": (32, 32)}


class PackageError(ConfigError):
    """The app package cannot be built; `problems` lists every reason, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def default_app_dir() -> Path:
    """`./appPackage` when run from the project root, else the one next to this source tree."""
    here = Path.cwd() / "appPackage"
    return here if (here / "manifest.json").is_file() else Path(__file__).resolve().parents[1] / "appPackage"


def placeholders(node: Any) -> set[str]:
    """Every `${{NAME}}` used anywhere in a parsed manifest."""
    if isinstance(node, str):
        return set(PLACEHOLDER.findall(node))
    if isinstance(node, dict):
        return set().union(*(placeholders(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(placeholders(v) for v in node)) if node else set()
    return set()


def _fill(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], node)
    if isinstance(node, dict):
        return {k: _fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, values) for v in node]
    return node


def fill_manifest(template: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The manifest with its placeholders filled from `env`; PackageError names what is missing or wrong."""
    values = {**OPTIONAL_DEFAULTS, **{k: v for k, v in env.items() if v.strip()}}
    values.update({k: values[k].strip() for k in REQUIRED_GUIDS if k in values})
    problems: list[str] = []
    for name, meaning in REQUIRED_GUIDS.items():
        value = values.get(name)
        if value is None:
            problems.append(f"{name} is not set: set it to {meaning}")
        elif not GUID.match(value):
            problems.append(f"{name} is not a GUID: {value!r}")
    unfilled = sorted(name for name in placeholders(template) if name not in values)
    problems += [
        f"manifest placeholder ${{{{{name}}}}} is not filled: set {name} in the environment"
        for name in unfilled
        if name not in REQUIRED_GUIDS
    ]
    if problems:
        raise PackageError(problems)
    filled: dict[str, Any] = _fill(template, values)
    return filled


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def schema_problems(manifest: dict[str, Any]) -> list[str]:
    """What the official Teams manifest schema (draft-04) says is wrong, one line per problem."""
    validator = Draft4Validator(load_schema())
    errors = sorted(validator.iter_errors(manifest), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"manifest.json {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:200]}" for e in errors]


def icon_problems(app_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """Both icons exist with Teams' sizes; the outline one is only white on full transparency."""
    problems: list[str] = []
    icons = manifest.get("icons") or {}
    for role, size in ICON_SIZES.items():
        name = icons.get(role)
        if not isinstance(name, str):
            continue  # the schema check reports it
        path = app_dir / name
        if not path.is_file():
            problems.append(f"{role} icon {name} not found in {app_dir}")
            continue
        try:
            with Image.open(path) as image:
                image.load()
                if image.format != "PNG":
                    problems.append(f"{role} icon {name} is {image.format}, not PNG")
                if image.size != size:
                    problems.append(
                        f"{role} icon {name} is {image.size[0]}x{image.size[1]}, must be {size[0]}x{size[1]}"
                    )
                if role == "outline" and not outline_is_white_on_transparent(image):
                    problems.append(f"outline icon {name} must be white (#FFFFFF) on a fully transparent background")
        except OSError as exc:
            problems.append(f"{role} icon {name} cannot be read: {exc}")
    return problems


def outline_is_white_on_transparent(image: Image.Image) -> bool:
    if image.mode != "RGBA":
        return False
    data = image.tobytes()
    pixels = (data[i : i + 4] for i in range(0, len(data), 4))
    return all(px[3] == 0 or px == b"\xff\xff\xff\xff" for px in pixels)


def build_package(app_dir: Path, output: Path, env: Mapping[str, str]) -> Path:
    """Check everything, then write the zip (manifest.json and both icons at its root)."""
    manifest_path = app_dir / "manifest.json"
    try:
        template = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackageError([f"no manifest at {manifest_path}: run from the project root or pass --app-dir"]) from None
    except json.JSONDecodeError as exc:
        raise PackageError([f"{manifest_path} is not valid JSON: {exc}"]) from None
    manifest = fill_manifest(template, env)
    problems = schema_problems(manifest) + icon_problems(app_dir, manifest)
    if problems:
        raise PackageError(problems)
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        for role in ICON_SIZES:
            name = manifest["icons"][role]
            archive.write(app_dir / name, arcname=Path(name).name)
    return output


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.package", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--app-dir", type=Path, default=None, help="folder with manifest.json and the icons")
    parser.add_argument(
        "--output", type=Path, default=None, help="zip to write (default: <app-dir>/build/appPackage.zip)"
    )
    args = parser.parse_args(argv)
    app_dir: Path = args.app_dir or default_app_dir()
    output: Path = args.output or app_dir / "build" / "appPackage.zip"
    try:
        written = build_package(app_dir, output, os.environ)
    except PackageError as exc:
        for problem in exc.problems:
            sys.stderr.write(f"package: error: {problem}\n")
        return 1
    sys.stdout.write(f"Wrote {written}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
