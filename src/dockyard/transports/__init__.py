"""Image sources and sinks outside the store: OCI layouts, docker archives, registries."""
