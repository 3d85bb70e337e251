"""Image config + run options -> an OCI runtime bundle's `config.json`, as Docker would make it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.records import Record
from dockyard.runtime import rootless, spec_defaults
from dockyard.runtime.users import ResolvedUser, resolve_in_root, resolve_user

OCI_VERSION = "1.0.2"


class MountSpec(Record):
    """One `-v`/`--mount`: a host path (bind, or a named volume's data dir) at `destination`."""

    def __init__(
        self, source: str, destination: str, readonly: bool = False,
        kind: str = "bind",  # "bind" | "volume" | "tmpfs"
        name: str | None = None,  # volume name for kind == "volume"
    ) -> None:  # fmt: skip
        self.source = source
        self.destination = destination
        self.readonly = readonly
        self.kind = kind
        self.name = name

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "destination": self.destination,
                "readonly": self.readonly, "kind": self.kind, "name": self.name}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> MountSpec:
        return cls(d["source"], d["destination"], d.get("readonly", False),
                   d.get("kind", "bind"), d.get("name"))  # fmt: skip


class RunOptions(Record):
    """What `docker run` flags say about the process and its sandbox (not about networking)."""

    def __init__(
        self, command: list[str] | None = None,  # args after the image
        entrypoint: list[str] | None = None,  # --entrypoint ("" -> [] clears it)
        env: list[str] | None = None,  # KEY=VAL after -e/--env-file resolution
        workdir: str | None = None, user: str | None = None, group_add: list[str] | None = None,
        hostname: str | None = None, tty: bool = False, interactive: bool = False,
        read_only: bool = False, cap_add: list[str] | None = None, cap_drop: list[str] | None = None,
        privileged: bool = False,
        memory: int | None = None,  # bytes
        cpus: float | None = None, init: bool = False, mounts: list[MountSpec] | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.command: list[str] = [] if command is None else command
        self.entrypoint = entrypoint
        self.env: list[str] = [] if env is None else env
        self.workdir = workdir
        self.user = user
        self.group_add: list[str] = [] if group_add is None else group_add
        self.hostname = hostname
        self.tty = tty
        self.interactive = interactive
        self.read_only = read_only
        self.cap_add: list[str] = [] if cap_add is None else cap_add
        self.cap_drop: list[str] = [] if cap_drop is None else cap_drop
        self.privileged = privileged
        self.memory = memory
        self.cpus = cpus
        self.init = init
        self.mounts: list[MountSpec] = [] if mounts is None else mounts
        self.labels: dict[str, str] = {} if labels is None else labels


def resolve_args(image_cfg: dict[str, Any], opts: RunOptions) -> list[str]:
    """Docker's ENTRYPOINT/CMD table: args replace CMD; --entrypoint replaces it and clears CMD."""
    if opts.entrypoint is not None:
        entry = list(opts.entrypoint)
        cmd = list(opts.command)
    else:
        entry = list(image_cfg.get("Entrypoint") or [])
        cmd = list(opts.command) if opts.command else list(image_cfg.get("Cmd") or [])
    args = entry + cmd
    if not args:
        raise InvalidArgument(
            "no command specified",
            hint="give a command after the image name, or use an image with CMD or ENTRYPOINT",
        )
    return args


def _env_key(item: str) -> str:
    return item.split("=", 1)[0]


def merge_env(base: list[str], extra: list[str]) -> list[str]:
    """Later entries replace earlier ones with the same key, keeping first-seen order."""
    out: dict[str, str] = {}
    for item in [*base, *extra]:
        out[_env_key(item)] = item
    return list(out.values())


def build_env(
    image_cfg: dict[str, Any], opts: RunOptions, user: ResolvedUser, hostname: str
) -> list[str]:
    env = merge_env([], list(image_cfg.get("Env") or []))
    keys = {_env_key(e) for e in env}
    defaults = []
    if "PATH" not in keys:
        defaults.append(f"PATH={spec_defaults.DEFAULT_PATH}")
    env = merge_env([*defaults, f"HOSTNAME={hostname}"], env)
    if opts.tty:
        env = merge_env(env, ["TERM=xterm"])
    env = merge_env(env, opts.env)
    if "HOME" not in {_env_key(e) for e in env}:
        env.append(f"HOME={user.home}")
    return env


def parse_memory(value: str) -> int:
    """Docker's `--memory` units: b, k, m, g (case-insensitive); at least 6 MiB."""
    text = value.strip().lower()
    units = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
    mult = 1
    if text and text[-1] in units:
        mult = units[text[-1]]
        text = text[:-1]
    elif text.endswith(("kb", "mb", "gb")):
        mult = units[text[-2]]
        text = text[:-2]
    try:
        amount = int(float(text) * mult)
    except ValueError:
        raise InvalidArgument(
            f"invalid memory size {value!r}", hint="use a number with a unit, such as 256m or 1g"
        ) from None
    if amount < 6 * 1024 * 1024:
        raise InvalidArgument(
            "minimum memory limit allowed is 6MB", hint="use --memory 6m or more"
        )
    return amount


def _resources(opts: RunOptions) -> dict[str, Any]:
    res: dict[str, Any] = {"devices": [{"allow": False, "access": "rwm"}]}
    if opts.memory:
        res["memory"] = {"limit": opts.memory, "swap": opts.memory * 2}
    if opts.cpus:
        period = 100000
        res["cpu"] = {"period": period, "quota": int(opts.cpus * period)}
    return res


def _etc_mounts(container_dir: Path, host_network: bool) -> list[dict[str, Any]]:
    mounts = []
    for name in ("hostname", "hosts", "resolv.conf"):
        src = container_dir / name
        mounts.append({"destination": f"/etc/{name}", "type": "bind", "source": str(src),
                       "options": ["rbind", "rprivate"]})  # fmt: skip
    return mounts


def _user_mounts(opts: RunOptions) -> list[dict[str, Any]]:
    out = []
    for m in opts.mounts:
        if m.kind == "tmpfs":
            out.append({"destination": m.destination, "type": "tmpfs", "source": "tmpfs",
                        "options": ["nosuid", "nodev", "noexec"]})  # fmt: skip
            continue
        options = ["rbind", "rprivate", "ro" if m.readonly else "rw"]
        out.append({"destination": m.destination, "type": "bind", "source": m.source,
                    "options": options})  # fmt: skip
    return out


def ensure_workdir(rootfs: Path, workdir: str, user: ResolvedUser) -> None:
    """Create the working directory inside the rootfs if it is missing (Docker does)."""
    target = resolve_in_root(rootfs, workdir)
    if not target.exists():
        target.mkdir(mode=0o755, parents=True, exist_ok=True)


def build_spec(
    image_cfg: dict[str, Any],
    opts: RunOptions,
    *,
    rootfs: Path,
    container_dir: Path,
    hostname: str,
    netns_path: str | None,
    host_network: bool = False,
    cgroups_path: str | None = None,
    init_path: str | None = None,
    seccomp_profile: Path = spec_defaults.SECCOMP_PROFILE,
    image_arch: str | None = None,
) -> dict[str, Any]:
    """The complete runtime-spec config for one container (process is the main one).

    The seccomp filter covers the 32-bit syscall ABIs only for a 32-bit image (`image_arch`
    386 or arm): compiling them costs every start ~15 ms (see spec_defaults.convert_seccomp).
    """
    user = resolve_user(rootfs, opts.user or image_cfg.get("User") or "", opts.group_add)
    args = resolve_args(image_cfg, opts)
    workdir = opts.workdir or image_cfg.get("WorkingDir") or "/"
    if not workdir.startswith("/"):
        raise InvalidArgument(
            f"the working directory '{workdir}' is invalid, it needs to be an absolute path",
            hint="use -w /some/dir",
        )
    ensure_workdir(rootfs, workdir, user)
    if opts.init and init_path:
        args = ["/sbin/docker-init", "--", *args]
    caps = spec_defaults.capabilities(opts.cap_add, opts.cap_drop, opts.privileged)
    process: dict[str, Any] = {
        "terminal": opts.tty,
        "user": {"uid": user.uid, "gid": user.gid},
        "args": args,
        "env": build_env(image_cfg, opts, user, hostname),
        "cwd": workdir,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": spec_defaults.default_rlimits(),
        "noNewPrivileges": False,
        "oomScoreAdj": 0,
    }
    if user.additional_gids:
        process["user"]["additionalGids"] = user.additional_gids
    namespaces: list[dict[str, Any]] = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    if not host_network:
        ns: dict[str, Any] = {"type": "network"}
        if netns_path:
            ns["path"] = netns_path
        namespaces.append(ns)
    mounts = spec_defaults.default_mounts() + _etc_mounts(container_dir, host_network)
    if opts.init and init_path:
        mounts.append({"destination": "/sbin/docker-init", "type": "bind", "source": init_path,
                       "options": ["rbind", "ro", "rprivate"]})  # fmt: skip
    mounts += _user_mounts(opts)
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "resources": _resources(opts),
        "maskedPaths": [] if opts.privileged else list(spec_defaults.MASKED_PATHS),
        "readonlyPaths": [] if opts.privileged else list(spec_defaults.READONLY_PATHS),
    }
    if cgroups_path:
        linux["cgroupsPath"] = cgroups_path
    subarches = image_arch in ("386", "arm")
    seccomp = (None if opts.privileged
               else spec_defaults.default_seccomp(caps, seccomp_profile, subarches))  # fmt: skip
    if seccomp:
        linux["seccomp"] = seccomp
    spec = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": str(rootfs), "readonly": opts.read_only},
        "hostname": hostname,
        "mounts": mounts,
        "annotations": dict(opts.labels),
        "linux": linux,
    }
    # --- rootless hook: a non-root user gets a user namespace, no cgroups (runtime/rootless.py)
    if rootless.active():
        rootless.adjust_spec(spec)
    # --- end rootless hook
    return spec


def process_spec(
    base: dict[str, Any],
    args: list[str],
    *,
    rootfs: Path,
    env: list[str],
    workdir: str | None,
    user: str | None,
    tty: bool,
) -> dict[str, Any]:
    """The process.json for `exec`: the container's process with new args, env, cwd, user."""
    proc = json.loads(json.dumps(base["process"]))
    proc["args"] = args
    proc["terminal"] = tty
    proc["env"] = merge_env(proc["env"], env)
    if workdir:
        proc["cwd"] = workdir
    if user:
        u = resolve_user(rootfs, user)
        proc["user"] = {"uid": u.uid, "gid": u.gid}
        if u.additional_gids and not rootless.active():  # runc: no extra groups rootless
            proc["user"]["additionalGids"] = u.additional_gids
    return proc


def resolv_conf_text(host_file: Path = Path("/etc/resolv.conf")) -> str:
    """The host's resolv.conf minus 127.x/::1 nameservers; Google DNS if none remain (Docker)."""
    try:
        lines = host_file.read_text().splitlines()
    except OSError:
        lines = []
    kept = []
    nameservers = 0
    for line in lines:
        fields = line.split()
        if fields[:1] == ["nameserver"] and len(fields) > 1:
            if fields[1].startswith("127.") or fields[1] == "::1":
                continue
            nameservers += 1
        kept.append(line)
    if nameservers == 0:
        kept += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    return "\n".join(kept) + "\n"


def hosts_text(hostname: str, ip: str | None, peers: dict[str, str] | None = None) -> str:
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
    ]
    if ip:
        lines.append(f"{ip}\t{hostname}")
    for name, peer_ip in sorted((peers or {}).items()):
        lines.append(f"{peer_ip}\t{name}")
    return "\n".join(lines) + "\n"


def write_etc_files(
    container_dir: Path, hostname: str, ip: str | None, host_network: bool,
    peers: dict[str, str] | None = None,
) -> None:  # fmt: skip
    """hostname, hosts and resolv.conf in the container dir (bind-mounted over /etc/...)."""
    if host_network:
        (container_dir / "hostname").write_text(os.uname().nodename + "\n")
        hosts = Path("/etc/hosts").read_text() if Path("/etc/hosts").exists() else ""
        (container_dir / "hosts").write_text(hosts)
    else:
        (container_dir / "hostname").write_text(hostname + "\n")
        (container_dir / "hosts").write_text(hosts_text(hostname, ip, peers))
    (container_dir / "resolv.conf").write_text(resolv_conf_text())


def write_config(bundle_dir: Path, spec: dict[str, Any]) -> Path:
    path = bundle_dir / "config.json"
    tmp = bundle_dir / "config.json.tmp"
    tmp.write_text(json.dumps(spec, indent=1))
    os.replace(tmp, path)
    return path
