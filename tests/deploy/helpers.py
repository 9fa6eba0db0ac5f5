"""Running the shipped nginx edge config (deploy/nginx) with Debian's nginx: filled in as an operator would
(envsubst), under a main config of the test's own, in a directory of its own."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.helpers import free_port, wait_for

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
JS_MODULE = Path("/usr/lib/nginx/modules/ngx_http_js_module.so")


def nginx_missing() -> str | None:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        return "Debian's nginx is not installed (make test installs it where it can)"
    if not JS_MODULE.exists():
        return "libnginx-mod-http-js is not installed (make test installs it where it can)"
    return None


def filled(template: str, values: dict[str, str]) -> str:
    """`template` with each ${NAME} of `values` replaced, as `envsubst '$NAME ...'` does; nginx's own $vars stay."""
    text = template
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    left = re.findall(r"\$\{(\w+)\}", text)
    assert not left, f"unfilled values in the edge config: {left}"
    return text


@contextmanager
def edge(
    directory: Path,
    secret: str,
    origin: str,
    store_host: str,
    store_path: str,
    port: int | None = None,
    host: str = "127.0.0.1",
) -> Iterator[str]:
    """The edge on a loopback port (a free one by default), in front of `origin` (host:port) and the bucket at
    `store_host` + `store_path`; yields its URL. Its access log (directory/access.log) names the upstream each
    request reached, if any."""
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    site = filled(
        (DEPLOY / "nginx" / "vetrina-edge.conf").read_text(),
        {
            "VETRINA_EDGE_LISTEN": f"{host}:{port}",
            "VETRINA_EDGE_CACHE": str(directory / "cache"),
            "VETRINA_EDGE_JS": str(DEPLOY / "nginx"),
            "VETRINA_EDGE_CDN": "127.0.0.1/32",  # the test's "CDN": requests from 127.0.0.1 may say their country
            "VETRINA_ORIGIN": origin,
            "VETRINA_STORE_HOST": store_host,
            "VETRINA_STORE_PATH": store_path,
        },
    )
    (directory / "vetrina-edge.conf").write_text(site)
    with _nginx(
        directory, f"include {directory}/vetrina-edge.conf;", {"VETRINA_SECRET_KEY": secret}, port, host
    ) as url:
        yield url


@contextmanager
def static_nginx(directory: Path, root: Path) -> Iterator[str]:
    """The same nginx serving the files under `root` straight from disk (the edge benchmark's reference)."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = f"server {{ listen 127.0.0.1:{port}; location / {{ root {root}; }} }}"
    with _nginx(directory, server, {}, port) as url:
        yield url


@contextmanager
def _nginx(directory: Path, http_block: str, env: dict[str, str], port: int, host: str = "127.0.0.1") -> Iterator[str]:
    """nginx with one worker, its files in `directory`, serving `http_block`, until the block ends."""
    temp = directory / "temp"
    temp.mkdir(exist_ok=True)
    # As root (a test machine), workers would switch to nobody, who cannot enter the test's private directory.
    (directory / "nginx.conf").write_text(
        f"""load_module {JS_MODULE};
{"user root;" if os.geteuid() == 0 else ""}
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
env VETRINA_SECRET_KEY;
events {{ worker_connections 4096; }}
http {{
    log_format edge '$uri $status upstream=$upstream_addr cache=$upstream_cache_status';
    access_log {directory}/access.log edge;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    {http_block}
}}
"""
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    command = [nginx, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", str(directory / "error.log")]
    full_env = {**os.environ, **env}
    check = subprocess.run([*command[:1], "-t", *command[1:]], env=full_env, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(command, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://{host}:{port}"
    try:
        wait_for(lambda: _answers(url), timeout_s=10, message="nginx to listen")
        yield url
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/media/x/y/z", timeout=1)
        return True
    except httpx.TransportError:
        return False


def upstream_calls(directory: Path, key_suffix: str) -> list[str]:
    """The upstream each logged request for a URI ending in `key_suffix` reached ("-": none)."""
    lines = (directory / "access.log").read_text().splitlines() if (directory / "access.log").exists() else []
    return [line.split("upstream=")[1].split()[0] for line in lines if line.split()[0].endswith(key_suffix)]


class Cluster:
    """Vetrina processes that share nothing but the network (the database, Redis, the bucket): web nodes, each on
    its own loopback address, and workers, each with its own empty data directory and its own log."""

    def __init__(self, root: Path, settings: dict[str, str]) -> None:
        self.root, self.settings = root, settings
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def _start(self, name: str, *command: str) -> subprocess.Popen[bytes]:
        data = self.root / name / "data"
        data.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.settings, "VETRINA_DATA_DIR": str(data)}
        log = (self.root / f"{name}.log").open("ab")
        # A process group of its own, so a kill takes its ffmpeg children down with it.
        process = subprocess.Popen(
            [sys.executable, "-m", "vetrina", *command],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def web(self, name: str, host: str, port: int) -> str:
        """A web node with no job workers (`vetrina serve --no-worker`); its URL once it answers."""
        self._start(name, "serve", "--host", host, "--port", str(port), "--no-worker", "--no-live")
        url = f"http://{host}:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, timeout_s=60, message=f"{name} to answer")
        return url

    def worker(self, name: str, metrics_port: int) -> str:
        """A job worker; the URL of its own metrics."""
        self._start(name, "worker", "--metrics-port", str(metrics_port))
        return f"http://127.0.0.1:{metrics_port}/"

    def kill(self, name: str) -> None:
        """SIGKILL the process and its children: no clean-up of any kind."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for name in list(self.processes):
            process = self.processes.pop(name)
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
