"""The `dockyard` command line: click commands over dockyard.engine."""
