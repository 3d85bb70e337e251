"""Helpers shared by tests: small images and root filesystems built from local packages."""
