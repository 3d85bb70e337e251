"""config.json generation: Docker's ENTRYPOINT/CMD table, env, users, resolv.conf, seccomp."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.busybox import GROUP, PASSWD

from dockyard.errors import InvalidArgument
from dockyard.runtime import bundle, spec_defaults
from dockyard.runtime.bundle import RunOptions
from dockyard.runtime.users import resolve_user


@pytest.mark.parametrize(
    ("image", "opts", "want"),
    [
        ({"Cmd": ["sh"]}, RunOptions(), ["sh"]),
        ({"Entrypoint": ["/ep"], "Cmd": ["a"]}, RunOptions(), ["/ep", "a"]),
        ({"Entrypoint": ["/ep"], "Cmd": ["a"]}, RunOptions(command=["b"]), ["/ep", "b"]),
        ({"Entrypoint": ["/ep"], "Cmd": ["a"]}, RunOptions(entrypoint=["/x"]), ["/x"]),
        ({"Entrypoint": ["/ep"], "Cmd": ["a"]}, RunOptions(entrypoint=[], command=["ls"]), ["ls"]),
        ({"Cmd": ["/bin/sh", "-c", "echo hi"]}, RunOptions(), ["/bin/sh", "-c", "echo hi"]),
    ],
)
def test_entrypoint_cmd_table(image: dict, opts: RunOptions, want: list[str]) -> None:
    assert bundle.resolve_args(image, opts) == want


def test_no_command_is_an_error() -> None:
    with pytest.raises(InvalidArgument, match="no command specified"):
        bundle.resolve_args({}, RunOptions())


@pytest.fixture
def etc_root(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(PASSWD)
    (tmp_path / "etc" / "group").write_text(GROUP)
    return tmp_path


def test_users_resolve_like_docker(etc_root: Path) -> None:
    app = resolve_user(etc_root, "app")
    assert (app.uid, app.gid, sorted(app.additional_gids), app.home) == (1000, 1000, [29, 50], "/home/app")
    assert (resolve_user(etc_root, "33:audio").uid, resolve_user(etc_root, "33:audio").gid) == (33, 29)
    assert (resolve_user(etc_root, "4242").uid, resolve_user(etc_root, "4242").gid) == (4242, 0)
    with pytest.raises(InvalidArgument, match="unable to find user ghost"):
        resolve_user(etc_root, "ghost")


def test_env_defaults_and_overrides(etc_root: Path) -> None:
    user = resolve_user(etc_root, "app")
    env = bundle.build_env({"Env": ["A=1"]}, RunOptions(env=["A=2", "B=3"], tty=True), user, "h1")
    assert env[0] == f"PATH={spec_defaults.DEFAULT_PATH}"
    assert {"HOSTNAME=h1", "A=2", "B=3", "TERM=xterm", "HOME=/home/app"} <= set(env)


def test_resolv_conf_drops_localhost_nameservers(tmp_path: Path) -> None:
    f = tmp_path / "resolv.conf"
    f.write_text("search example.org\nnameserver 127.0.0.53\n")
    assert bundle.resolv_conf_text(f) == "search example.org\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    f.write_text("nameserver 10.0.0.2\nnameserver 127.0.0.1\n")
    assert bundle.resolv_conf_text(f) == "nameserver 10.0.0.2\n"


def test_capabilities_add_drop_all() -> None:
    caps = spec_defaults.capabilities(["net_admin"], ["chown"])
    assert "CAP_NET_ADMIN" in caps and "CAP_CHOWN" not in caps and "CAP_KILL" in caps
    assert spec_defaults.capabilities(["NET_BIND_SERVICE"], ["ALL"]) == ["CAP_NET_BIND_SERVICE"]
    with pytest.raises(InvalidArgument):
        spec_defaults.capabilities(["NOPE"], [])


def test_seccomp_conversion_respects_caps() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_PTRACE"]}},
            {"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
             "excludes": {"caps": ["CAP_SYS_CHROOT"]}},
        ],
    }  # fmt: skip
    spec = spec_defaults.convert_seccomp(profile, spec_defaults.DEFAULT_CAPS)
    names = [s["names"] for s in spec["syscalls"]]
    assert names == [["read"]] and spec["defaultErrnoRet"] == 38
    spec = spec_defaults.convert_seccomp(profile, ["CAP_SYS_PTRACE"])
    assert [s["names"] for s in spec["syscalls"]] == [["read"], ["ptrace"], ["chroot"]]


def test_seccomp_covers_32_bit_abis_only_when_asked() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                     "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}],
    }  # fmt: skip
    import os

    native = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}[os.uname().machine]
    assert spec_defaults.convert_seccomp(profile, [], subarches=False)["architectures"] == [native]
    assert len(spec_defaults.convert_seccomp(profile, [])["architectures"]) > 1
