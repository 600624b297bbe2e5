"""Network partition of one local process (a broker) with iptables, both ways.

Dropping only a broker's listener ports is a *half* partition: its own
outgoing connections to the other brokers and controllers keep working. So a
partition here has three parts, all checked on this machine (root, iptables
1.8 nf_tables, cgroup v2 mounted at /sys/fs/cgroup/unified or /sys/fs/cgroup):

1. the process moves into its own cgroup v2 ``kafkaval-part-<name>-<port>``
   and ``OUTPUT -m cgroup --path <that> -j DROP`` drops every packet of the
   sockets it opens from now on;
2. sockets it opened *before* (a cgroup is stamped on a socket at creation)
   are found by their local ports (/proc/<pid>/fd -> /proc/net/tcp) and
   ``INPUT -p tcp -m multiport --ports <ports> -j DROP`` drops them, as well as
   its listener ports (clients and the other brokers connecting to it);
3. every rule carries ``-m comment --comment kafkaval-part-<name>-<port>``, so
   ``heal`` deletes exactly these rules and ``active_rules`` proves none remain.

On loopback every packet passes OUTPUT and INPUT, so these rules cut the
process off from every peer on 127.0.0.1 in both directions. ``heal`` also
moves the process back to its original cgroup and removes ours.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from chaos.errors import ChaosError

COMMENT_PREFIX = "kafkaval-part-"
_MULTIPORT_MAX = 15  # iptables multiport takes at most 15 ports per rule

Runner = Callable[[Sequence[str]], str]


def run_iptables(args: Sequence[str]) -> str:
    """Run ``iptables -w <args>`` and return stdout.

    Raises:
        ChaosError: iptables is missing or the command failed.
    """
    try:
        done = subprocess.run(
            ["iptables", "-w", "5", *args], capture_output=True, text=True, timeout=30
        )
    except FileNotFoundError as e:
        raise ChaosError("iptables not found: install it (apt-get install iptables)") from e
    except subprocess.TimeoutExpired as e:
        raise ChaosError(f"iptables {' '.join(args)} hung for 30 s") from e
    if done.returncode != 0:
        raise ChaosError(
            f"iptables {' '.join(args)} failed: {done.stderr.strip() or done.returncode} "
            "(chaos partitions need root)"
        )
    return done.stdout


def cgroup2_root() -> Path:
    """Where cgroup v2 is mounted (unified hierarchy, or the hybrid 'unified' dir).

    Raises:
        ChaosError: no cgroup v2 mount.
    """
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "cgroup2":
            return Path(fields[1])
    raise ChaosError("no cgroup v2 mount found: a process partition needs cgroup v2")


def socket_ports(pid: int, proc: Path = Path("/proc")) -> set[int]:
    """Local TCP ports of every socket ``pid`` holds (IPv4 and IPv6)."""
    inodes = set()
    try:
        for fd in (proc / str(pid) / "fd").iterdir():
            try:
                link = fd.readlink().as_posix()
            except OSError:
                continue  # an fd closed while we looked
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / str(pid) / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class ProcessPartitioner:
    """Cuts one process off the network with iptables + a cgroup; see the module doc.

    Args:
        name: the target name (goes into the rule comment and the cgroup name).
        ports: the process's listener ports; the first one makes the comment
            unique between stacks whose processes share a name.
        run: runs iptables (injectable for unit tests).
        cgroup_root: the cgroup v2 mount (None: found at partition time).
    """

    def __init__(
        self,
        name: str,
        ports: Sequence[int],
        run: Runner = run_iptables,
        cgroup_root: Path | None = None,
        socket_ports: Callable[[int], set[int]] = socket_ports,
    ) -> None:
        self.name = name
        self.ports = list(ports)
        self.tag = f"{COMMENT_PREFIX}{name}" + (f"-{self.ports[0]}" if self.ports else "")
        self._run = run
        self._cgroup_root = cgroup_root
        self._socket_ports = socket_ports
        self._origin_cgroup: str | None = None

    def _root(self) -> Path:
        if self._cgroup_root is None:
            self._cgroup_root = cgroup2_root()
        return self._cgroup_root

    def rule_specs(self, extra_ports: set[int]) -> list[list[str]]:
        """The iptables rules (as ``-A CHAIN ...`` argv) this partition adds."""
        comment = ["-m", "comment", "--comment", self.tag]
        specs = [["-A", "OUTPUT", "-m", "cgroup", "--path", self.tag, *comment, "-j", "DROP"]]
        ports = sorted(set(self.ports) | extra_ports)
        for i in range(0, len(ports), _MULTIPORT_MAX):
            chunk = ",".join(str(p) for p in ports[i : i + _MULTIPORT_MAX])
            specs.append(
                ["-A", "INPUT", "-p", "tcp", "-m", "multiport", "--ports", chunk, *comment]
                + ["-j", "DROP"]
            )
        return specs

    def partition(self, pid: int) -> None:
        """Cut ``pid`` off; on any failure the rules added so far are removed.

        Raises:
            ChaosError: not root, no cgroup v2, iptables failed.
        """
        cgroup = self._root() / self.tag
        try:
            cgroup.mkdir(exist_ok=True)
            self._origin_cgroup = _cgroup_of(pid)
            # Move first, then list sockets: a socket opened in between is
            # either stamped with our cgroup or already in the port list.
            (cgroup / "cgroup.procs").write_text(f"{pid}\n")
            for spec in self.rule_specs(self._socket_ports(pid)):
                self._run(spec)
        except OSError as e:
            self.heal(pid)
            raise ChaosError(f"cannot partition {self.name}: {e} (needs root and cgroup v2)") from e
        except ChaosError:
            self.heal(pid)
            raise

    def active_rules(self) -> list[str]:
        """Our rules currently in the filter table, as ``-A ...`` lines."""
        rules = []
        for chain in ("INPUT", "OUTPUT"):
            for line in self._run(["-S", chain]).splitlines():
                if f"--comment {self.tag} " in line + " " or f'"{self.tag}"' in line:
                    rules.append(line)
        return rules

    def heal(self, pid: int | None) -> None:
        """Delete exactly our rules, move ``pid`` back, remove our cgroup.

        Raises:
            ChaosError: a rule could not be deleted (the message names it).
        """
        for rule in self.active_rules():
            argv = rule.split()
            argv[0] = "-D"
            self._run([a.strip('"') for a in argv])
        root = self._cgroup_root
        if root is None:
            try:
                root = cgroup2_root()
            except ChaosError:
                return
        cgroup = root / self.tag
        if not cgroup.exists():
            return
        back = root / (self._origin_cgroup or "").lstrip("/")
        try:
            for member in (cgroup / "cgroup.procs").read_text().split():
                (back / "cgroup.procs").write_text(f"{member}\n")
            cgroup.rmdir()
        except OSError as e:
            raise ChaosError(f"cannot remove cgroup {cgroup} after healing {self.name}: {e}") from e


def _cgroup_of(pid: int) -> str:
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return "/"  # gone already: nothing to move back
    for line in text.splitlines():
        if line.startswith("0::"):
            return line[3:]
    return "/"


def leftover_rules(run: Runner = run_iptables) -> list[str]:
    """Every kafkaval partition rule in INPUT/OUTPUT, whatever stack added it."""
    if run is run_iptables and shutil.which("iptables") is None:
        # No iptables here (the tools' container, where partitions go through
        # the Docker engine): no rule of ours can exist.
        return []
    return [
        line
        for chain in ("INPUT", "OUTPUT")
        for line in run(["-S", chain]).splitlines()
        if COMMENT_PREFIX in line
    ]
