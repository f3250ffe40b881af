"""A real S3 for the tests: Ceph's RADOS Gateway on a one-node cluster, on loopback.

One `ceph-mon`, one `ceph-osd` on `memstore` (objects in RAM), no `ceph-mgr`, authentication
`none`, then `radosgw` with a user made by `radosgw-admin`; everything in a temporary directory,
on ports picked for this run, so that two test sessions on one host do not meet. Debian 12's
packages (`radosgw ceph-mon ceph-osd`, release 16) start it in about two seconds given:
- `ms_mon_client_mode = crc`: without it radosgw hangs at start (get_initial_auth_request -13);
- the monitor's paxos intervals shortened (about 12 s to settle otherwise);
- short garbage-collector intervals: memstore keeps deleted objects in RAM until the GC runs.
Each daemon runs in the foreground as a child of this process, dies with it (PR_SET_PDEATHSIG),
and is stopped by its PID on exit.
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

DAEMONS = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph")
START_TIMEOUT_SECONDS = 60.0
ACCESS_KEY = SECRET_KEY = "test"  # what the test settings sign with


class CephError(RuntimeError):
    """The cluster did not start; the message quotes the daemon's log."""


@dataclass(frozen=True)
class CephS3:
    url: str
    access_key: str
    secret_key: str
    pids: tuple[int, ...]  # the monitor, the OSD and the gateway (for CPU accounting)


def available() -> bool:
    """Whether Debian's Ceph packages are installed (`.ci/run` installs them)."""
    return all(shutil.which(name) for name in DAEMONS)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _config(root: Path, fsid: str, mon_port: int, rgw_port: int) -> str:
    return f"""[global]
fsid = {fsid}
mon host = v1:127.0.0.1:{mon_port}
mon initial members = a
public addr = 127.0.0.1
ms bind msgr2 = false
ms mon client mode = crc
auth cluster required = none
auth service required = none
auth client required = none
paxos propose interval = 0.01
paxos min wait = 0.001
osd objectstore = memstore
memstore device bytes = 12884901888
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
run dir = {root}/run
admin socket = {root}/run/$name.asok
log file = {root}/log/$name.log
mon data = {root}/mon/$cluster-$id
osd data = {root}/osd/$cluster-$id
[client.rgw.s3]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port}
rgw gc obj min wait = 0
rgw gc processor period = 5
rgw gc processor max time = 5
rgw enable usage log = false
rgw enable ops log = false
"""


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class _Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = str(root / "ceph.conf")
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[BinaryIO] = []

    def run(self, *args: str) -> str:
        """A one-shot command (mkfs, osd create, user create); CephError quotes its output."""
        done = subprocess.run(
            [*args, "-c", self.conf], capture_output=True, timeout=60, check=False
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")
            raise CephError(f"{' '.join(args)} failed:\n{output[-3000:]}")
        return done.stdout.decode()

    def start(self, *args: str) -> None:
        """A daemon in the foreground, its output in its log file."""
        log = (self.root / "log" / f"{args[0]}.out").open("wb")
        self._logs.append(log)
        self.processes.append(
            subprocess.Popen(
                [*args, "-c", self.conf, "-f"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - nothing else runs in the child
            )
        )

    def alive(self) -> bool:
        return all(process.poll() is None for process in self.processes)

    def stop(self) -> None:
        """By PID, at once: the cluster is a throwaway (memstore), nothing to flush."""
        for process in reversed(self.processes):
            process.kill()
            process.wait()
        for log in self._logs:
            log.close()

    def failure(self, what: str) -> CephError:
        logs = sorted((self.root / "log").glob("*"))
        tail = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in logs)
        return CephError(f"{what}\n{tail}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _boot(cluster: _Cluster, fsid: str, mon_port: int) -> None:
    for folder in ("run", "log", "mon/ceph-a", "osd/ceph-0"):
        (cluster.root / folder).mkdir(parents=True)
    monmap = str(cluster.root / "monmap")
    subprocess.run(
        [
            "monmaptool",
            "--create",
            "--add",
            "a",
            f"v1:127.0.0.1:{mon_port}",
            "--fsid",
            fsid,
            monmap,
        ],
        capture_output=True,
        check=True,
    )
    cluster.run("ceph-mon", "--mkfs", "-i", "a", "--monmap", monmap)
    cluster.start("ceph-mon", "-i", "a")
    osd_id = cluster.run("ceph", "osd", "create").strip()
    cluster.run("ceph-osd", "-i", osd_id, "--mkfs")
    cluster.start("ceph-osd", "-i", osd_id)
    cluster.start("radosgw", "-n", "client.rgw.s3")


def _start(cluster: _Cluster) -> CephS3:
    """Boot the cluster on fresh ports; CephError if a daemon exits or nothing answers."""
    mon_port, rgw_port, fsid = _free_port(), _free_port(), str(uuid.uuid4())
    (cluster.root / "ceph.conf").write_text(_config(cluster.root, fsid, mon_port, rgw_port))
    _boot(cluster, fsid, mon_port)
    url = f"http://127.0.0.1:{rgw_port}"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not _answers(url) or not cluster.alive():  # a health check, not a guess
        if not cluster.alive():
            raise cluster.failure("a Ceph daemon exited while starting")
        if time.monotonic() > deadline:
            raise cluster.failure("radosgw did not answer in time")
        time.sleep(0.1)
    cluster.run(
        "radosgw-admin", "user", "create", "--uid=bucketd", "--display-name=bucketd",
        f"--access-key={ACCESS_KEY}", f"--secret-key={SECRET_KEY}",
    )  # fmt: skip
    if not cluster.alive():  # e.g. its port was taken meanwhile: another cluster answered
        raise cluster.failure("a Ceph daemon exited while starting")
    return CephS3(url, ACCESS_KEY, SECRET_KEY, tuple(p.pid for p in cluster.processes))


@contextlib.contextmanager
def ceph_s3(attempts: int = 3) -> Iterator[CephS3]:
    """A one-node Ceph cluster with its S3 gateway, for as long as the context lasts. A port
    picked free may be taken before a daemon binds it (another test session starting its own):
    the cluster then starts again, on other ports and in another directory."""
    for attempt in range(1, attempts + 1):
        with tempfile.TemporaryDirectory(prefix="bucketd-ceph-") as directory:
            cluster = _Cluster(Path(directory))
            try:
                s3 = _start(cluster)
            except CephError:
                cluster.stop()
                if attempt == attempts:
                    raise
                continue
            try:
                yield s3
            finally:
                cluster.stop()
            return


def main() -> None:
    """`python -m bucketd.standins.ceph`: start one, print its endpoint, stop on Ctrl-C."""
    with ceph_s3() as s3:
        print(f"READY {s3.url} (access key {s3.access_key}, secret {s3.secret_key})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
