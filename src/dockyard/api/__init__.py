"""The Docker Engine API service: the real `docker` CLI and docker-py talk to dockyard over HTTP."""

API_VERSION = "1.45"
MIN_API_VERSION = "1.24"
