"""Running containers: the OCI runtime bundle, runc, conmon, container records, health and logs."""
