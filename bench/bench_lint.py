"""Benchmark: lint a generated 5,000-instruction Dockerfile; the issue's budget is 2 seconds."""

from __future__ import annotations

import sys
import time

from dockyard.lint.runner import lint_text

BUDGET_S = 2.0


def generate(instructions: int = 5000) -> str:
    """A realistic mix: several stages of RUN/COPY/ENV/LABEL lines with package installs."""
    lines = ["ARG BASE=debian:12"]
    templates = [
        "RUN apt-get update && apt-get install -y --no-install-recommends pkg{i}=1.{i} "
        "&& rm -rf /var/lib/apt/lists/*",
        "COPY src/file{i}.py /app/file{i}.py",
        "ENV VAR{i}=value{i} PATH=/opt/bin{i}:$PATH",
        "LABEL org.example.label{i}=\"v{i}\"",
        "RUN pip install --no-cache-dir pkg{i}==1.0 | tee /tmp/log{i}",
        "WORKDIR /srv/dir{i}",
        "RUN cd /tmp && curl -fsSL https://example.com/{i}.tgz | tar -xz",
    ]
    n = 1
    while n < instructions:
        if n % 500 == 1:
            lines.append(f"FROM $BASE AS stage{n}")
        else:
            lines.append(templates[n % len(templates)].format(i=n))
        n += 1
    lines.append('CMD ["python", "/app/main.py"]')
    return "\n".join(lines) + "\n"


def main() -> int:
    text = generate()
    start = time.perf_counter()
    findings = lint_text(text)
    elapsed = time.perf_counter() - start
    print(f"lint: {text.count(chr(10))} instructions, {len(findings)} findings, "
          f"{elapsed:.2f} s (budget {BUDGET_S:.1f} s)")
    return 0 if elapsed < BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
