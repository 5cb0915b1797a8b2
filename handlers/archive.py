"""Meter-sample archive: DynamoDB Streams (new samples only) -> gzip JSON lines in S3, so that the
meter table's 13-month TTL never just drops history (issue 15).

Triggered by the meter table's stream in batches of up to 10,000 records (5-minute window): one S3
object per batch, ``meter/<yyyy>/<mm>/<dd>/<first sequence number>.jsonl.gz``; a retried batch
overwrites its own object (same key), so nothing is archived twice. Each line is the item as
DynamoDB's stream gives it (attribute-value JSON: ``{"stream": {"S": ...}, ...}``).
"""

from __future__ import annotations

import gzip
import json
import os
from datetime import datetime, timezone
from typing import Any

ENV_ARCHIVE_BUCKET = "ARCHIVE_BUCKET"
_client = None


def _s3():
    global _client
    if _client is None:
        import botocore.session

        _client = botocore.session.get_session().create_client("s3")
    return _client


def archive_batch(records: list[dict[str, Any]], bucket: str, put=None) -> str | None:
    """Write the new images of ``records`` as one gzip JSON-lines object; returns its key (None when
    the batch holds no new image, e.g. only TTL deletions)."""
    images = [r["dynamodb"]["NewImage"] for r in records if r.get("dynamodb", {}).get("NewImage")]
    if not images:
        return None
    first = records[0]["dynamodb"]
    day = datetime.fromtimestamp(first.get("ApproximateCreationDateTime", 0), timezone.utc)
    key = f"meter/{day:%Y/%m/%d}/{first.get('SequenceNumber', 'batch')}.jsonl.gz"
    body = gzip.compress("\n".join(json.dumps(i, separators=(",", ":")) for i in images).encode())
    # straight into Glacier Deep Archive: read back only for audits or re-analysis (hours to restore)
    (put or (lambda **kw: _s3().put_object(**kw)))(Bucket=bucket, Key=key, Body=body, ContentEncoding="gzip",
                                                   ContentType="application/x-ndjson", StorageClass="DEEP_ARCHIVE")
    return key


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    key = archive_batch(event.get("Records") or [], os.environ[ENV_ARCHIVE_BUCKET])
    return {"archived": key}
