"""The meter archive writes every new sample of a stream batch to one gzip JSON-lines object and
nothing for a batch of TTL deletions (so the table's TTL only removes what is already archived)."""

from __future__ import annotations

import gzip
import json

from handlers.archive import archive_batch


def _record(seq: str, image: dict | None, name: str = "INSERT") -> dict:
    body = {"SequenceNumber": seq, "ApproximateCreationDateTime": 1718215200}
    if image is not None:
        body["NewImage"] = image
    return {"eventName": name, "dynamodb": body}


def test_a_batch_becomes_one_object_with_every_new_sample():
    puts = []
    images = [{"stream": {"S": f"CP{i}#1"}, "sample_key": {"S": "2024-06-12T18:00:00Z#p"}, "energy_wh": {"N": str(i)}}
              for i in range(3)]
    key = archive_batch([_record(f"10{i}", img) for i, img in enumerate(images)], "bucket",
                        put=lambda **kw: puts.append(kw))
    assert key == "meter/2024/06/12/100.jsonl.gz"
    (put,) = puts
    assert put["Bucket"] == "bucket" and put["Key"] == key and put["StorageClass"] == "DEEP_ARCHIVE"
    lines = gzip.decompress(put["Body"]).decode().splitlines()
    assert [json.loads(line) for line in lines] == images


def test_a_batch_of_ttl_deletions_writes_nothing():
    puts = []
    assert archive_batch([_record("1", None, "REMOVE")], "bucket", put=lambda **kw: puts.append(kw)) is None
    assert puts == []
