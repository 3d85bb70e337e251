"""Time dockyard.dockerfile.parse on a generated 5,000-instruction Dockerfile (goal: < 1 s)."""

from __future__ import annotations

import time

from dockyard.dockerfile import parse
from dockyard.dockerfile.stages import build_stages


def generate(count: int = 5000) -> str:
    kinds = [
        "RUN apt-get update \\\n    && apt-get install -y curl-{i} \\\n    && rm -rf /var/lib/apt/lists/*",
        'ENV VAR_{i}="value {i}" OTHER_{i}=x',
        "COPY --chown=1000:1000 src/{i} /app/{i}/",
        'LABEL com.example.key{i}="v{i}"',
        'CMD ["/bin/app", "--n", "{i}"]',
        "RUN <<EOF\necho {i}\nEOF",
        "# a comment {i}\nARG A{i}=default",
        "WORKDIR /w/{i}",
    ]
    lines = ["FROM alpine:3.19 AS base"]
    for i in range(count - 1):
        lines.append(kinds[i % len(kinds)].format(i=i))
    return "\n".join(lines) + "\n"


def main() -> None:
    text = generate()
    start = time.perf_counter()
    result = parse(text)
    parsed = time.perf_counter() - start
    start = time.perf_counter()
    build_stages(result)
    typed = time.perf_counter() - start
    print(f"instructions: {len(result.children)}  lines: {text.count(chr(10))}")
    print(f"parse: {parsed:.3f} s   typed instructions: {typed:.3f} s   (goal: parse < 1 s)")


if __name__ == "__main__":
    main()
