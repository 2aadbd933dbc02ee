"""A throwaway PostgreSQL cluster for the tests, on loopback, in a temporary directory.

`ensure_installed()` finds initdb/pg_ctl (PATH, then Debian's /usr/lib/postgresql/*/
bin) and, when they are missing and we run as root on Debian, installs the `postgresql`
package with apt-get (quietly, non-interactive). `PgServer.start()` creates a cluster
with initdb and starts it on a free 127.0.0.1 port; `stop()` stops it and removes the
directory. initdb refuses to run as root, so as root the cluster belongs to the
`postgres` system user that the Debian package creates (commands run through runuser).

The cluster trades durability for speed (fsync off): it holds nothing worth keeping.

Run as a script (`python tests/pgserver.py`) to install the server if needed and
check that a cluster starts; .ci/run does so before the tests.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SERVER_USER = "postgres"
SUPERUSER = "postgres"
_DEBIAN_LIB = Path("/usr/lib/postgresql")  # one directory per major version


class PgUnavailable(Exception):
    """No PostgreSQL server can be had on this machine (the reason says why)."""


def _is_root() -> bool:
    return os.geteuid() == 0


def find_bin_dir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, newest version first."""
    candidates: list[Path] = []
    on_path = shutil.which("pg_ctl")
    if on_path is not None:
        candidates.append(Path(on_path).resolve().parent)

    def version(path: Path) -> int:
        name = path.parent.name
        return int(name) if name.isdigit() else 0

    candidates += sorted(_DEBIAN_LIB.glob("*/bin"), key=version, reverse=True)
    for directory in candidates:
        if all((directory / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def ensure_installed() -> Path:
    """Return the server's bin directory, installing Debian's package when allowed."""
    found = find_bin_dir()
    if found is not None:
        return found
    if not _is_root() or shutil.which("apt-get") is None:
        raise PgUnavailable(
            "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in "
            f"{_DEBIAN_LIB}/*/bin) and it cannot be installed here (needs root and "
            "apt-get): install Debian's 'postgresql' package"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PgUnavailable(
                f"installing PostgreSQL failed ({' '.join(command)} exited "
                f"{done.returncode}): {done.stderr.strip()[-500:]}"
            )
    found = find_bin_dir()
    if found is None:
        raise PgUnavailable("the postgresql package was installed but initdb was not found")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PgServer:
    """One running throwaway cluster; `dsn(db)` connects as the superuser (trust auth)."""

    bin_dir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="handover-pg-")))
    port: int = 0
    _run_as: str | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._run_as is not None:
            command = ["runuser", "-u", self._run_as, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    def start(self, attempts: int = 3) -> None:
        """initdb and start; raise PgUnavailable with the server's words on failure."""
        if _is_root():
            # initdb refuses root; the cluster belongs to the package's system user.
            try:
                owner = pwd.getpwnam(SERVER_USER)
            except KeyError as exc:
                raise PgUnavailable(
                    f"running as root and there is no '{SERVER_USER}' user to own the cluster"
                ) from exc
            self._run_as = SERVER_USER
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        done = self._run(
            "initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        if done.returncode != 0:
            raise PgUnavailable(f"initdb failed: {done.stderr.strip()[-500:]}")
        # The port is free when probed, but another process may take it before the
        # server binds it: try a few.
        error = ""
        for _ in range(attempts):
            self.port = free_port()
            options = (
                f"-p {self.port} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_directories={self.root} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            done = self._run(
                "pg_ctl", "-D", str(self.data_dir), "-l", str(self.root / "server.log"),
                "-o", options, "-w", "-t", "30", "start",
            )  # fmt: skip
            if done.returncode == 0:
                return
            error = done.stderr.strip() or done.stdout.strip()
        log = self.root / "server.log"
        tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
        raise PgUnavailable(f"the PostgreSQL server did not start: {error}\n{tail}")

    def stop(self) -> None:
        """Stop the server (fast: nothing in it is kept) and remove its directory."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)


def start_server() -> PgServer:
    """Install when needed and start a cluster; the caller stops it."""
    server = PgServer(ensure_installed())
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


if __name__ == "__main__":
    try:
        pg = start_server()
    except PgUnavailable as exc:
        print(f"pgserver: {exc}", file=sys.stderr)
        sys.exit(1)
    try:
        print(f"pgserver: PostgreSQL from {pg.bin_dir} starts and stops fine")
    finally:
        pg.stop()
