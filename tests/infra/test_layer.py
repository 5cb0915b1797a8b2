"""The dependency layer builds for arm64 without Docker and fits Lambda's limits."""

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


AARCH64 = 183  # ELF e_machine


def _elf_machine(path):
    with open(path, "rb") as handle:
        header = handle.read(20)
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def _build(tmp_path, group):
    uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    env = {**os.environ, "UV": uv, "LAYER_BUILD_DIR": str(tmp_path / group), "LAYER_GROUP": group}
    result = subprocess.run(["bash", str(ROOT / "layers" / "build.sh")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    print(result.stdout)
    python = tmp_path / group / "python"
    native = list(python.rglob("*.so*"))
    machines = {p.name: _elf_machine(p) for p in native if p.is_file()}
    assert machines and set(machines.values()) == {AARCH64}, machines  # arm64 binaries, not this machine's
    return python, sum(p.stat().st_size for p in python.rglob("*") if p.is_file())


def test_layers_build_for_arm64_without_docker_and_fit_lambdas_limit(tmp_path):
    python, common = _build(tmp_path, "lambda")
    assert (python / "ocpp").is_dir() and (python / "pynamodb").is_dir() and (python / "aws_lambda_powertools").is_dir()
    python, planner = _build(tmp_path, "lambda-planner")
    assert (python / "scipy" / "optimize").is_dir() and (python / "numpy").is_dir()
    code = sum(p.stat().st_size for package in ("csms", "adapters", "handlers")
               for p in (ROOT / package).rglob("*.py"))
    total_mib = (common + planner + code) / 2**20
    print(f"scheduler function: {common / 2**20:.0f} + {planner / 2**20:.0f} MiB layers + code = {total_mib:.0f} MiB")
    assert total_mib < 250  # Lambda's limit for a function and its layers, unzipped
