"""dockyard: a Docker-compatible, daemonless container toolchain."""

__version__ = "0.1.0"
