"""Docs stay true: every setting is documented, the README opens with the two commands, compose is valid."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from logsvc.config import SETTINGS

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    for s in SETTINGS:
        assert f"`{s.env}`" in readme, f"{s.env} is not documented in README.md"


def test_readme_starts_with_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    head = readme.split("---", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", head, re.S)
    assert [b.strip() for b in blocks] == [
        "python3 -m pip install -e . && python3 -m logsvc demo",
        "make test",
    ]
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "pytest" in (ROOT / "Makefile").read_text()


def test_compose_file_has_service_volume_and_producer() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"logsvc", "producer"}
    assert services["logsvc"]["ports"] == ["127.0.0.1:4588:4588"]
    for svc in services.values():
        assert "logsvc-data:/data" in svc["volumes"]
        assert svc["environment"]["LOGSVC_DATA_DIR"] == "/data"
    assert "logsvc-data" in compose["volumes"]
    assert (ROOT / "Dockerfile").read_text().count("FROM ") == 1


def test_every_console_file_is_installed() -> None:
    """setup.cfg's data_files name the console's files one by one (a non-editable install serves
    only those): a new view left out of the list is a blank panel after `pip install .`."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed: set[Path] = set()
    for value in cfg["options.data_files"].values():
        for item in (x.strip() for x in value.replace("\n", ",").split(",")):
            if item:
                listed |= set(ROOT.glob(item))
    on_disk = {p for p in (ROOT / "web").rglob("*") if p.is_file()}
    assert on_disk - listed == set(), sorted(str(p.relative_to(ROOT)) for p in on_disk - listed)
