#!/usr/bin/env bash
# Build the Lambda dependency layer WITHOUT Docker: manylinux wheels for arm64 / CPython 3.14
# (the functions' architecture and runtime, infra/constants.py), from the pins in uv.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-.tools/bin/uv}"
GROUP="${LAYER_GROUP:-lambda}"  # lambda: every function; lambda-planner: the scheduler's numpy + scipy
BUILD="${LAYER_BUILD_DIR:-layers/build}"
[ "$GROUP" = "lambda-planner" ] && BUILD="${LAYER_BUILD_DIR:-layers/build-planner}"
OUT="$BUILD/python"
rm -rf "$BUILD" && mkdir -p "$OUT"
"$UV" export --frozen --only-group "$GROUP" --no-hashes --no-emit-project --no-header > "$BUILD/requirements.txt"
"$UV" pip install --quiet --target "$OUT" --python-platform "${LAYER_PLATFORM:-aarch64-manylinux_2_28}" --python-version "${LAYER_PYTHON:-3.14}" \
    --only-binary :all: -r "$BUILD/requirements.txt"
find "$OUT" -name "__pycache__" -type d -prune -exec rm -rf {} +
if [ "$GROUP" = "lambda-planner" ]; then
    # numpy and scipy test suites are not needed at run time
    find "$OUT" -path "*/tests" -type d -prune -exec rm -rf {} +
fi
size=$(du -sm "$OUT" | cut -f1)
echo "layer: ${size} MiB unzipped in $OUT (Lambda limit: 250 MiB for function + layers)"
test "$size" -lt 250
