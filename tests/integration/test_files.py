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
