"""The dependency layer builds for arm64 without Docker and fits Lambda's limits."""

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_layer_builds_for_arm64_without_docker(tmp_path):
    uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    env = {**os.environ, "UV": uv, "LAYER_BUILD_DIR": str(tmp_path / "layer")}
    result = subprocess.run(["bash", str(ROOT / "layers" / "build.sh")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    print(result.stdout)
    python = tmp_path / "layer" / "python"
    assert (python / "ocpp").is_dir() and (python / "pynamodb").is_dir() and (python / "aws_lambda_powertools").is_dir()
    native = [p.name for p in python.rglob("*.so")]
    assert native and all("aarch64" in name for name in native), native  # arm64 wheels, not this machine's
