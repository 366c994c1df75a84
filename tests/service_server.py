"""Start ``accessmap serve`` (the real uvicorn server) as a subprocess on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

__all__ = ["LiveServer", "free_port"]

_SCRIPT = """
import sys
from pathlib import Path
from accessmap.service import ServiceSettings, serve
settings = ServiceSettings(data_dir=Path(sys.argv[1]), **eval(sys.argv[3]))
serve(settings, host="127.0.0.1", port=int(sys.argv[2]))
"""


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The service in a subprocess: ``start()``, ``kill()`` (SIGKILL), ``stop()``."""

    def __init__(self, data_dir: Path, **settings: Any) -> None:
        self.data_dir = data_dir
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"server-{self.port}.log"

    def start(self, timeout_s: float = 60) -> LiveServer:
        """Start the server and wait until it answers."""
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _SCRIPT, str(self.data_dir), str(self.port),
                 repr(self.settings)], stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited:\n" + self.log.read_text())
            try:
                httpx.get(self.url + "/conformance", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start:\n" + self.log.read_text())

    def kill(self) -> None:
        """SIGKILL the server (a crash)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server cleanly (SIGINT)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
