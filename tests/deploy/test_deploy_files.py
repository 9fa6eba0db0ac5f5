"""The deployment an operator copies (deploy/): no container engine runs here, so the files are checked against
the code instead. Every setting they set is one Vetrina reads, the edge gets every value its config asks for and
reads the bucket the nodes write, and the systemd units run commands and options the CLI has."""

from __future__ import annotations

import re
import shlex

import yaml
from typer.testing import CliRunner

from tests.deploy.helpers import DEPLOY
from vetrina.cli import app as cli
from vetrina.settings import Settings
from vetrina.web.app import vendor_dir

SETTINGS = {f"VETRINA_{name.upper()}" for name in Settings.model_fields}
AWS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_the_compose_files_settings_are_vetrinas_and_its_edge_reads_the_nodes_bucket(monkeypatch, tmp_path):
    services = compose()["services"]
    nodes = {name: service for name, service in services.items() if "build" in service}
    assert set(nodes) == {"web", "worker"} and all(s["deploy"]["replicas"] >= 2 for s in nodes.values())
    for service in nodes.values():
        unknown = set(service["environment"]) - SETTINGS - AWS
        assert not unknown, unknown
        assert service["command"][0] == "vetrina"
    env = nodes["web"]["environment"]
    bucket, prefix = re.fullmatch(r"s3://([^/]+)/(.+)", env["VETRINA_STORAGE_URL"]).groups()
    for name, value in env.items():  # each value as Vetrina reads it from the environment
        monkeypatch.setenv(name, value if "$" not in value else "x" * 64)
    monkeypatch.setenv("VETRINA_DATA_DIR", str(tmp_path))
    assert Settings().storage_url == env["VETRINA_STORAGE_URL"]

    edge = services["edge"]["environment"]
    wanted = set(re.findall(r"\$\{(\w+)\}", (DEPLOY / "nginx" / "vetrina-edge.conf").read_text()))
    assert wanted <= set(edge), wanted - set(edge)
    assert edge["VETRINA_STORE_PATH"] == f"/{bucket}/{prefix}"
    assert edge["VETRINA_STORE_HOST"] in env["VETRINA_S3_ENDPOINT_URL"]
    assert edge["VETRINA_SECRET_KEY"] == "${VETRINA_SECRET_KEY}" and "VETRINA_SECRET_KEY" in env
    assert edge["VETRINA_ORIGIN"].split(":")[0] == "web"
    mounts = " ".join(services["edge"]["volumes"])
    assert "vetrina-edge.js" in mounts and "nginx.conf" in mounts


def test_the_example_settings_are_vetrinas():
    lines = [line for line in (DEPLOY / "vetrina.env.example").read_text().splitlines() if "=" in line]
    names = {line.split("=", 1)[0] for line in lines if not line.startswith("#")}
    assert names and not names - SETTINGS - AWS, names - SETTINGS - AWS


def test_the_systemd_units_run_commands_and_options_the_cli_has():
    for unit in ("vetrina-web.service", "vetrina-worker.service"):
        text = (DEPLOY / "systemd" / unit).read_text()
        command = shlex.split(re.search(r"^ExecStart=(.+)$", text, re.M).group(1))
        assert command[0].endswith("/vetrina")
        subcommand, options = command[1], [a for a in command[2:] if a.startswith("--")]
        help_text = CliRunner().invoke(cli, [subcommand, "--help"], terminal_width=200).output
        for option in options:
            assert option in help_text, (unit, option)
        assert "EnvironmentFile=/etc/vetrina/vetrina.env" in text


def test_the_image_carries_the_front_end_packages_where_the_app_looks_for_them():
    """hls.js comes from npm into node_modules beside src/ (web/app.vendor_dir), as in a checkout."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "npm ci --omit=dev" in dockerfile and "pip install --no-cache-dir --no-deps -e ." in dockerfile
    workdir = re.findall(r"^WORKDIR (\S+)", dockerfile, re.M)[-1]
    assert f"COPY --from=front {workdir}/node_modules ./node_modules" in dockerfile
    assert vendor_dir() == DEPLOY.parent / "node_modules"  # src/vetrina -> the checkout's root
