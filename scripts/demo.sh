#!/usr/bin/env bash
# `make demo`: the README's main job. Makes sure the offline base images exist, builds
# examples/flask as my-flask-app:1.0, runs it detached on port 5000 and prints its answer.
# Idempotent: a second run replaces the container. Store root: DOCKYARD_ROOT.
set -euo pipefail
cd "$(dirname "$0")/.."

dy=.venv/bin/dockyard
example=examples/flask
image=my-flask-app:1.0
name=flask-app
port=5000

say() { printf '\n==> %s\n' "$*"; }

say "base images (python:3.11-slim, debian:bookworm-slim)"
bash scripts/base-images.sh

say "dockyard lint $example (best practices; findings do not stop the demo)"
"$dy" lint "$example" || true

say "dockyard build -t $image $example"
"$dy" build -t "$image" "$example"

say "dockyard run -d --name $name -p $port:$port $image"
"$dy" rm -f "$name" >/dev/null 2>&1 || true
if ss -Hltn "sport = :$port" | grep -q .; then
  echo "demo: port $port is already in use by another program:" >&2
  ss -ltnp "sport = :$port" >&2 || true
  exit 1
fi
"$dy" run -d --name "$name" -p "$port:$port" "$image"

say "curl -s localhost:$port"
for _ in $(seq 1 60); do
  if answer=$(curl -s --max-time 2 "http://localhost:$port/") && [ -n "$answer" ]; then
    echo "$answer"
    say "the app is running; stop it with: $dy rm -f $name"
    exit 0
  fi
  sleep 0.5
done
echo "demo: the app did not answer on localhost:$port within 30 s" >&2
"$dy" logs "$name" >&2 || true
exit 1
