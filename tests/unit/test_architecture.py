"""The domain package stays free of AWS: it must run without boto3, pynamodb or Powertools."""

import ast
from pathlib import Path

FORBIDDEN = {"boto3", "botocore", "pynamodb", "aws_lambda_powertools", "moto", "aws_cdk", "adapters", "handlers"}


def test_domain_has_no_aws_imports():
    offenders = []
    for path in (Path(__file__).resolve().parents[2] / "csms").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
