"""The Teams app package: manifest vs the official schema, icons, `python -m bot.package`, router parity."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator
from PIL import Image

from bot.package import PackageError, build_package, fill_manifest, icon_problems, schema_problems

ROOT = Path(__file__).resolve().parents[1]
APP_DIR = ROOT / "appPackage"
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "teams-manifest-1.19.schema.json"
APP_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
BOT_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
ENV = {"TEAMS_APP_ID": APP_ID, "BOT_ID": BOT_ID}
# Teams' manifest scope names against the router's.
ROUTER_SCOPE = {"personal": "personal", "team": "channel", "groupChat": "groupChat"}


def template() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((APP_DIR / "manifest.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def validator() -> Draft4Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema)


def test_vendored_schemas_agree() -> None:
    shipped = ROOT / "bot" / "schemas" / "teams-manifest-1.19.schema.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def test_filled_manifest_is_valid(validator: Draft4Validator) -> None:
    manifest = fill_manifest(template(), ENV)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(manifest)]
    assert errors == []
    assert manifest["$schema"] == "https://developer.microsoft.com/json-schemas/teams/v1.19/MicrosoftTeams.schema.json"
    assert manifest["manifestVersion"] == "1.19"
    assert manifest["id"] == APP_ID
    assert manifest["bots"][0]["botId"] == BOT_ID
    assert manifest["name"]["short"] == "Referral Radar"
    assert sorted(manifest["bots"][0]["scopes"]) == ["groupChat", "personal", "team"]
    assert manifest["validDomains"] == []
    assert all(manifest["developer"][k].startswith("https://") for k in ("websiteUrl", "privacyUrl", "termsOfUseUrl"))
    assert "${{" not in json.dumps(manifest)
    suffixed = fill_manifest(template(), {**ENV, "APP_NAME_SUFFIX": " (dev)"})
    assert suffixed["name"]["short"] == "Referral Radar (dev)"


def test_template_placeholders() -> None:
    raw = template()
    assert raw["id"] == "${{TEAMS_APP_ID}}"
    assert raw["bots"][0]["botId"] == "${{BOT_ID}}"


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(lambda m: m.update(packageName="com.example.radar"), id="packageName-invalid-from-1.19"),
        pytest.param(lambda m: m["bots"][0].update(scopes=["groupchat"]), id="lowercase-groupchat"),
        pytest.param(lambda m: m.update(id="not-a-guid"), id="id-not-guid"),
        pytest.param(lambda m: m["name"].update(short="R" * 31), id="short-name-too-long"),
        pytest.param(lambda m: m.pop("developer"), id="no-developer"),
        pytest.param(lambda m: m.update(accentColor="blue"), id="accent-not-hex"),
        pytest.param(
            lambda m: m["bots"][0]["commandLists"][0]["commands"].extend([{"title": "x", "description": "y"}] * 2),
            id="more-than-10-commands",
        ),
    ],
)
def test_broken_manifest_is_rejected(validator: Draft4Validator, breakage: Any) -> None:
    manifest = fill_manifest(template(), ENV)
    broken = copy.deepcopy(manifest)
    breakage(broken)
    assert validator.is_valid(manifest)
    assert not validator.is_valid(broken)
    assert schema_problems(broken)  # the packager's own check says so too


def test_fill_names_every_problem() -> None:
    with pytest.raises(PackageError) as missing:
        fill_manifest(template(), {"BOT_ID": BOT_ID})
    assert missing.value.problems == [
        "TEAMS_APP_ID is not set: set it to the Teams app's id (any GUID of yours, e.g. from `uuidgen`; "
        "keep it for updates)"
    ]
    with pytest.raises(PackageError) as bad:
        fill_manifest(template(), {"TEAMS_APP_ID": APP_ID, "BOT_ID": "my-bot"})
    assert bad.value.problems == ["BOT_ID is not a GUID: 'my-bot'"]
    extra = template()
    extra["developer"]["websiteUrl"] = "https://${{BOT_DOMAIN}}/about"
    with pytest.raises(PackageError) as unfilled:
        fill_manifest(extra, ENV)
    assert unfilled.value.problems == [
        "manifest placeholder ${{BOT_DOMAIN}} is not filled: set BOT_DOMAIN in the environment"
    ]
    assert fill_manifest(extra, {**ENV, "BOT_DOMAIN": "bot.example.com"})["developer"]["websiteUrl"] == (
        "https://bot.example.com/about"
    )


def test_icons() -> None:
    with Image.open(APP_DIR / "color.png") as color:
        assert color.format == "PNG"
        assert color.size == (192, 192)
        assert len(color.getcolors(maxcolors=1 << 16) or []) > 1  # full colour, not blank
    with Image.open(APP_DIR / "outline.png") as outline:
        assert outline.format == "PNG"
        assert outline.size == (32, 32)
        assert outline.mode == "RGBA"
        pixels = {px for _, px in outline.getcolors(maxcolors=1 << 16) or []}
        opaque = {px for px in pixels if px[3] != 0}
        assert opaque == {(255, 255, 255, 255)}, "only opaque white or full transparency"
        assert any(px[3] == 0 for px in pixels)
    assert icon_problems(APP_DIR, template()) == []


def test_icon_problems_are_found(tmp_path: Path) -> None:
    Image.new("RGBA", (96, 96), (10, 20, 30, 255)).save(tmp_path / "color.png")
    outline = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    outline.putpixel((5, 5), (255, 0, 0, 255))
    outline.putpixel((6, 6), (255, 255, 255, 128))
    outline.save(tmp_path / "outline.png")
    assert icon_problems(tmp_path, template()) == [
        "color icon color.png is 96x96, must be 192x192",
        "outline icon outline.png must be white (#FFFFFF) on a fully transparent background",
    ]
    (tmp_path / "color.png").unlink()
    assert icon_problems(tmp_path, template())[0] == f"color icon color.png not found in {tmp_path}"


def run_package(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("TEAMS_APP_ID", "BOT_ID", "APP_NAME_SUFFIX")}
    return subprocess.run(
        [sys.executable, "-m", "bot.package", *args],
        env={**clean, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_package_command_writes_the_zip(tmp_path: Path, validator: Draft4Validator) -> None:
    out = tmp_path / "out" / "appPackage.zip"
    result = run_package(tmp_path, {**ENV, "APP_NAME_SUFFIX": "-dev"}, "--app-dir", str(APP_DIR), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        assert archive.read("color.png") == (APP_DIR / "color.png").read_bytes()
        assert archive.read("outline.png") == (APP_DIR / "outline.png").read_bytes()
    assert manifest["id"] == APP_ID
    assert manifest["bots"][0]["botId"] == BOT_ID
    assert manifest["name"]["short"] == "Referral Radar-dev"
    assert "${{" not in json.dumps(manifest)
    assert validator.is_valid(manifest)


def test_package_command_default_output(tmp_path: Path) -> None:
    app_dir = tmp_path / "appPackage"
    app_dir.mkdir()
    for name in ("manifest.json", "color.png", "outline.png"):
        (app_dir / name).write_bytes((APP_DIR / name).read_bytes())
    result = run_package(tmp_path, ENV)  # finds ./appPackage from the working directory
    assert result.returncode == 0, result.stderr
    assert zipfile.is_zipfile(app_dir / "build" / "appPackage.zip")


def test_package_command_fails_clearly_without_app_id(tmp_path: Path) -> None:
    out = tmp_path / "app.zip"
    result = run_package(tmp_path, {"BOT_ID": BOT_ID}, "--app-dir", str(APP_DIR), "--output", str(out))
    assert result.returncode != 0
    assert "TEAMS_APP_ID is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_package_command_rejects_bad_values_and_broken_manifest(tmp_path: Path) -> None:
    result = run_package(tmp_path, {**ENV, "BOT_ID": "12345"}, "--app-dir", str(APP_DIR), "--output", "x.zip")
    assert result.returncode != 0
    assert "BOT_ID is not a GUID: '12345'" in result.stderr
    app_dir = tmp_path / "broken"
    app_dir.mkdir()
    for name in ("color.png", "outline.png"):
        (app_dir / name).write_bytes((APP_DIR / name).read_bytes())
    manifest = template()
    manifest["packageName"] = "com.example.radar"
    (app_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = run_package(tmp_path, ENV, "--app-dir", str(app_dir), "--output", "x.zip")
    assert result.returncode != 0
    assert "packageName" in result.stderr
    assert not (tmp_path / "x.zip").exists()
    (app_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    result = run_package(tmp_path, ENV, "--app-dir", str(app_dir))
    assert result.returncode != 0
    assert "is not valid JSON" in result.stderr


def test_build_package_in_process(tmp_path: Path) -> None:
    out = build_package(APP_DIR, tmp_path / "a.zip", ENV)
    with zipfile.ZipFile(out) as archive:
        assert json.loads(archive.read("manifest.json"))["id"] == APP_ID


def test_command_lists_match_router() -> None:
    from bot.commands import build_router
    from core.settings import Settings

    specs = build_router(Settings()).visible_specs()
    bot = template()["bots"][0]
    covered: list[str] = []
    for command_list in bot["commandLists"]:
        wanted = {ROUTER_SCOPE[scope] for scope in command_list["scopes"]}
        expected = [
            # listed only where it works in every scope of the list (`notify here`: channels, not group chats)
            {"title": spec.name, "description": spec.description}
            for spec in specs
            if wanted <= set(spec.scopes)
        ]
        assert command_list["commands"] == expected, command_list["scopes"]
        covered += command_list["scopes"]
    assert sorted(covered) == sorted(bot["scopes"]), "every bot scope has exactly one command list"
