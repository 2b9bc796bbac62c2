"""A real mosquitto broker on a free loopback port, configured from ops/mosquitto/ (the tests and
`vend hil`, which starts one when no broker is given).

`MosquittoBroker` writes a password file (users `bridge`, `m1`, `m2` by default, via
`mosquitto_passwd -b`), derives its config from `ops/mosquitto/mosquitto.conf` (only the keys in
`OVERRIDDEN_KEYS` are replaced: listener, file paths, user, logging) and uses the project's ACL file
unchanged, so the tests exercise what is deployed. Persistence lives in the work dir; `stop()` (SIGTERM:
mosquitto saves its persistence db) followed by `start()` brings the same broker back on the same port
with its retained messages and persistent sessions; `kill()` is a crash (SIGKILL, nothing saved).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "ops" / "mosquitto" / "mosquitto.conf"
ACL = REPO / "ops" / "mosquitto" / "acl"
DEFAULT_USERS = ("bridge", "m1", "m2")
OVERRIDDEN_KEYS = frozenset(
    {"listener", "password_file", "acl_file", "persistence_location", "log_dest", "user", "pid_file"}
)
START_DEADLINE_S = 10.0


class BrokerUnavailable(RuntimeError):
    """mosquitto is not installed, or did not start."""


def which_tool(name: str) -> str:
    """Path of a mosquitto tool ($VEND_MOSQUITTO names the broker's binary); BrokerUnavailable without it."""
    if name == "mosquitto" and os.environ.get("VEND_MOSQUITTO"):
        return os.environ["VEND_MOSQUITTO"]
    found = shutil.which(name) or next(
        (str(p) for d in ("/usr/sbin", "/usr/local/sbin") if (p := Path(d) / name).is_file()), None
    )
    if found is None:
        raise BrokerUnavailable(f"{name} is not installed (apt-get install mosquitto mosquitto-clients)")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def project_config(*, port: int, host: str, workdir: Path, passwd: Path, acl: Path = ACL) -> str:
    """The deployed config with the environment-specific keys replaced."""
    # The test listener takes the place of the deployed one: options after it (use_username_as_clientid)
    # are the listener's own, and before any listener they would open a default one on port 1883.
    kept = [
        f"listener {port} {host}" if line.split()[:1] == ["listener"] else line
        for line in CONF.read_text().splitlines()
        if not line.strip() or line.lstrip().startswith("#") or line.split()[0] not in OVERRIDDEN_KEYS - {"listener"}
    ]
    overrides = [
        f"user {getpass.getuser()}",
        f"password_file {passwd}",
        f"acl_file {acl}",
        f"persistence_location {workdir / 'data'}",
        f"log_dest file {workdir / 'mosquitto.log'}",
        "log_type debug",
    ]
    # `listener` must come before per-listener options in mosquitto's parser only when
    # per_listener_settings is true; it is false in the project config, so order is free.
    return "\n".join([*kept, "", "# test overrides", *overrides, ""])


class MosquittoBroker:
    """One mosquitto process; `host`, `port` and `credentials` (user -> password) for clients."""

    host = "127.0.0.1"

    def __init__(self, *, workdir: Path, users: tuple[str, ...] = DEFAULT_USERS,
                 find_tool: Callable[[str], str] = which_tool) -> None:
        self.mosquitto = find_tool("mosquitto")
        self.mosquitto_passwd = find_tool("mosquitto_passwd")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "data").mkdir(exist_ok=True)
        self.credentials = {user: f"pw-{user}" for user in users}
        self.passwd_path = self.workdir / "passwd"
        self.conf_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._write_passwords()

    def password(self, user: str) -> str:
        return self.credentials[user]

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _write_passwords(self) -> None:
        self.passwd_path.write_text("")
        for user, password in self.credentials.items():
            subprocess.run(
                [self.mosquitto_passwd, "-b", str(self.passwd_path), user, password],
                check=True,
                capture_output=True,
            )

    def start(self) -> MosquittoBroker:
        """Start (or restart on the same port) and return once it accepts TCP connections."""
        if self.running:
            raise RuntimeError("broker already running")
        first_start = self.port == 0
        for _attempt in range(5):
            if first_start:
                self.port = free_port(self.host)
            self.conf_path.write_text(
                project_config(port=self.port, host=self.host, workdir=self.workdir, passwd=self.passwd_path)
            )
            if self._launch_and_wait():
                return self
            if not first_start:
                break  # a restart must keep its port; do not hop
        raise BrokerUnavailable(f"mosquitto did not start on port {self.port}:\n{self.log()[-3000:]}")

    def _launch_and_wait(self) -> bool:
        with (self.workdir / "stderr.log").open("ab") as err:
            proc = subprocess.Popen([self.mosquitto, "-c", str(self.conf_path)], stdout=err, stderr=err)
        self._proc = proc
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return True
            except OSError:
                pass
            try:
                proc.wait(timeout=0.02)  # bounded wait that also notices an early exit
            except subprocess.TimeoutExpired:
                continue
            self._proc = None
            return False  # exited: port taken (first start) or bad config
        self.kill()
        return False

    def stop(self, *, timeout: float = 10.0) -> None:
        """Graceful stop: SIGTERM, mosquitto writes its persistence db, wait for exit."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=timeout)
        self._proc = None

    def kill(self) -> None:
        """Crash: SIGKILL, nothing since the last autosave is persisted."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None

    def restart(self) -> MosquittoBroker:
        self.stop()
        return self.start()

    def __enter__(self) -> MosquittoBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
