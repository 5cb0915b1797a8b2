#!/usr/bin/env bash
# Build the Lambda dependency layer WITHOUT Docker: manylinux wheels for arm64 / CPython 3.12
# (the functions' architecture and runtime, infra/constants.py), from the pins in uv.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-.tools/bin/uv}"
BUILD="${LAYER_BUILD_DIR:-layers/build}"
OUT="$BUILD/python"
rm -rf "$BUILD" && mkdir -p "$OUT"
"$UV" export --frozen --only-group lambda --no-hashes --no-emit-project --no-header > "$BUILD/requirements.txt"
"$UV" pip install --quiet --target "$OUT" --python-platform aarch64-manylinux2014 --python-version 3.12 \
    --only-binary :all: -r "$BUILD/requirements.txt"
find "$OUT" -name "__pycache__" -type d -prune -exec rm -rf {} +
size=$(du -sm "$OUT" | cut -f1)
echo "layer: ${size} MiB unzipped in $OUT (Lambda limit: 250 MiB for function + layers)"
test "$size" -lt 250
