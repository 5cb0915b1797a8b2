from urllib.parse import parse_qs, urlsplit

from moto import mock_aws

from adapters.files import S3Files


def test_firmware_and_diagnostics_urls_are_presigned_and_time_limited():
    with mock_aws():
        files = S3Files("fw-bucket", "diag-bucket", "eu-west-2")
        url = urlsplit(files.firmware_url("acme/w22-2.0.bin", expires_s=600))
        query = parse_qs(url.query)
        assert "fw-bucket" in url.netloc + url.path and url.path.endswith("acme/w22-2.0.bin")
        assert query["X-Amz-Expires"] == ["600"] and "X-Amz-Signature" in query
        upload = urlsplit(files.diagnostics_upload_url("CP001/20261130T091500Z-ab12"))
        assert "/CP001/" in upload.path and "X-Amz-Signature" in parse_qs(upload.query)


def test_an_uploaded_image_is_found_with_its_size():
    """S3 keeps the x-amz-checksum-sha256 of the upload and HeadObject returns it (ChecksumMode=ENABLED);
    moto keeps no checksums, so only the size and a missing object are checked here."""
    import base64
    import hashlib

    import boto3

    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-2")
        s3.create_bucket(Bucket="fw-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
        files = S3Files("fw-bucket", "diag-bucket", "eu-west-2")
        assert files.image_info("acme/w22/2.0.bin") is None
        body = b"firmware 2.0" * 100
        digest = hashlib.sha256(body).digest()
        s3.put_object(Bucket="fw-bucket", Key="acme/w22/2.0.bin", Body=body,
                      ChecksumSHA256=base64.b64encode(digest).decode())
        stored = files.image_info("acme/w22/2.0.bin")
        assert stored.size_bytes == len(body) and stored.sha256 in (None, digest.hex())
