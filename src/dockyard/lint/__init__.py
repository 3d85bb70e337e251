"""Dockerfile linting: hadolint-style, BuildKit-check and dockyard rules over the parsed AST."""
