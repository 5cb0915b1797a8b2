"""``csms firmware ...`` and ``csms diagnostics ...``: firmware images, staged campaigns with a
progress bar, diagnostics retrieval. Every command is a request to the HTTP API's routes
(``csms_local.cmd_api``: ``--api URL --token T``, or in-process on the local platform's state);
files go straight to the upload URL the API hands out (S3 in AWS, the local platform's HTTPS port)."""

from __future__ import annotations

import hashlib
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from csms_local.cli import UsageError, number
from csms_local.cmd_api import api_command, command_group, request


def register(subparsers) -> None:
    commands = command_group(subparsers, "firmware", "firmware images and staged update campaigns")
    upload = api_command(commands, "upload", upload_image, "upload an image (SHA-256 checked) for one vendor/model",
                         "file")
    upload.add_argument("--vendor", required=True, help="chargePointVendor of the chargers it is for")
    upload.add_argument("--model", required=True, help="chargePointModel of the chargers it is for")
    upload.add_argument("--version", required=True, help="the firmwareVersion the chargers boot with after it")
    upload.add_argument("--signature", help="file with the image's signature (base64), for SignedUpdateFirmware")
    upload.add_argument("--signing-certificate", help="PEM file of the signing certificate")
    api_command(commands, "images", list_images, "list images")

    sub = command_group(commands, "campaign", "create, show, retry, cancel campaigns")
    create = api_command(sub, "create", create_campaign, "start a campaign; wave 1 is sent at once")
    create.add_argument("--name", required=True)
    create.add_argument("--image", action="append", required=True, help="image id (repeat: one per model)")
    create.add_argument("--charger", action="append", help="only these chargers (repeat)")
    create.add_argument("--from-version", action="append", help="only chargers now on this version (repeat)")
    create.add_argument("--waves", default="1,10,100", help="percent of the targets per wave; the last is the rest")
    create.add_argument("--max-in-flight", type=int, default=50)
    create.add_argument("--failure-threshold", type=number, default=10.0, help="halt when a wave's failures exceed this %%")
    create.add_argument("--silence-timeout", type=int, default=7200, help="s without a word before a charger times out")
    create.add_argument("--url-ttl", type=int, default=3600, help="s each download URL lives")
    create.add_argument("--window", help="daily maintenance window HH:MM-HH:MM (local time of --timezone)")
    create.add_argument("--timezone", default="UTC", help="IANA time zone of the window (default UTC)")
    create.add_argument("--force", action="store_true", help="update even during an active transaction")
    api_command(sub, "list", list_campaigns, "campaigns with their progress")
    show = api_command(sub, "show", show_campaign, "a campaign's progress bar and every charger's state", "campaign_id")
    show.add_argument("--watch", action="store_true", help="refresh every 2 s until nothing is in flight")
    for name, helptext in (("retry", "queue failed and timed-out chargers again (new URLs); resumes a halt"),
                           ("cancel", "send nothing more")):
        api_command(sub, name, campaign_action, helptext, "campaign_id", action=name)

    dsub = command_group(subparsers, "diagnostics", "ask chargers for diagnostics, list and download them")
    api_command(dsub, "request", request_diagnostics, "send GetDiagnostics with an upload URL", "charge_point_id")
    api_command(dsub, "list", list_diagnostics, "a charger's diagnostics requests and files", "charge_point_id")
    get = api_command(dsub, "download", download_diagnostics, "download an uploaded diagnostics file",
                      "charge_point_id", "request_id", json_flag=False)
    get.add_argument("--out", required=True, help="where to write it")


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _context(args, url: str):
    """TLS for a file URL: the local platform's CA for its own HTTPS port, the system's otherwise."""
    ca = Path(args.ca or Path(args.state_dir) / "tls" / "ca.pem")
    host = urllib.parse.urlsplit(url).hostname or ""
    if url.startswith("https://") and ca.is_file() and host in ("127.0.0.1", "localhost", "::1"):
        return ssl.create_default_context(cafile=str(ca))
    return None


def _transfer(args, method: str, url: str, headers: dict, body=None) -> bytes:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method=method, headers=headers),
                                    timeout=600, context=_context(args, url)) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        text = exc.read().decode(errors="replace")
        try:
            text = json.loads(text).get("message", text)
        except (ValueError, AttributeError):
            pass
        raise UsageError(f"{method} {urllib.parse.urlsplit(url).path}: {exc.code}: {text[:200]}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise UsageError(f"cannot reach {urllib.parse.urlsplit(url).netloc}: {getattr(exc, 'reason', exc)}") from None


def _read_text(path: str | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what} {path}: {exc}") from None


def upload_image(args) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{args.file}: no such file")
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    size = path.stat().st_size
    body = {"vendor": args.vendor, "model": args.model, "version": args.version, "size_bytes": size,
            "sha256": digest.hexdigest(), "signature": _read_text(args.signature, "--signature"),
            "signing_certificate": _read_text(args.signing_certificate, "--signing-certificate")}
    created = request(args, "POST", "/v1/firmware/images", {k: v for k, v in body.items() if v is not None},
                      flags={"size_bytes": "file", "sha256": "file"})
    upload = created["upload"]
    with open(path, "rb") as source:
        _transfer(args, upload["method"], upload["url"], dict(upload["headers"]), source)
    image = request(args, "POST", f"/v1/firmware/images/{_quote(created['id'])}/complete")
    if args.json:
        print(json.dumps(image, indent=1))
    else:
        print(f"image {image['id']}: {image['vendor']} {image['model']} {image['version']}, {image['size_bytes']:,} bytes, "
              f"SHA-256 {image['sha256']}, {image['status']}")
    return 0


def list_images(args) -> int:
    images = request(args, "GET", "/v1/firmware/images")
    if args.json:
        print(json.dumps(images, indent=1))
        return 0
    print(f"{'id':<13} {'vendor':<12} {'model':<12} {'version':<12} {'bytes':>12} status")
    for i in images:
        print(f"{i['id']:<13} {i['vendor']:<12} {i['model']:<12} {i['version']:<12} {i['size_bytes']:>12,} {i['status']}")
    return 0


def _waves(text: str) -> list[float]:
    try:
        return [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise UsageError(f"--waves {text!r}: percentages separated by commas, e.g. 1,10,100") from None


# The campaign body's fields whose option has another name (the others: --name, --max-in-flight, --force).
CAMPAIGN_FLAGS = {"images": "--image", "chargers": "--charger", "from_versions": "--from-version",
                  "waves_percent": "--waves", "failure_threshold_percent": "--failure-threshold",
                  "silence_timeout_s": "--silence-timeout", "url_ttl_s": "--url-ttl", "window.timezone": "--timezone"}


def create_campaign(args) -> int:
    window = None
    if args.window:
        start, sep, end = args.window.partition("-")
        if not sep:
            raise UsageError(f"--window {args.window!r}: HH:MM-HH:MM")
        window = {"start": start.strip(), "end": end.strip(), "timezone": args.timezone}
    body = {"name": args.name, "images": args.image, "chargers": args.charger, "from_versions": args.from_version,
            "waves_percent": _waves(args.waves), "max_in_flight": args.max_in_flight,
            "failure_threshold_percent": args.failure_threshold, "silence_timeout_s": args.silence_timeout,
            "url_ttl_s": args.url_ttl, "window": window, "force": args.force}
    campaign = request(args, "POST", "/v1/firmware/campaigns", {k: v for k, v in body.items() if v is not None},
                       flags=CAMPAIGN_FLAGS)
    if args.json:
        print(json.dumps(campaign, indent=1))
    else:
        print(f"campaign {campaign['id']}: {campaign['progress']['total']} chargers in waves of "
              f"{', '.join(map(str, campaign['wave_sizes']))}")
        print(progress_line(campaign))
    return 0


def progress_line(campaign: dict, width: int = 30) -> str:
    """``[#####+++----] 40% installed 2, failed 1, ...`` (# installed, x failed or timed out, + in flight)."""
    p = campaign["progress"]
    total = p["total"] or 1
    installed = round(width * p["installed"] / total)
    failed = round(width * (p["failed"] + p["timed_out"]) / total)
    flying = round(width * p["in_flight"] / total)
    bar = ("#" * installed + "x" * failed + "+" * flying).ljust(width, "-")[:width]
    return (f"[{bar}] {p['done_percent']:5.1f}% {campaign['status']}: installed {p['installed']}, failed {p['failed']}, "
            f"timed out {p['timed_out']}, in flight {p['in_flight']}, scheduled {p['scheduled']}"
            + (f", skipped {p['skipped']}" if p["skipped"] else "")
            + (f" ({campaign['halted_reason']})" if campaign.get("halted_reason") else ""))


def list_campaigns(args) -> int:
    campaigns = request(args, "GET", "/v1/firmware/campaigns")
    if args.json:
        print(json.dumps(campaigns, indent=1))
        return 0
    for c in campaigns:
        print(f"{c['id']:<13} {c['name'][:30]:<30} wave {c['wave']}/{len(c['wave_sizes'])} {progress_line(c, 20)}")
    return 0


def show_campaign(args) -> int:
    path = f"/v1/firmware/campaigns/{_quote(args.campaign_id)}"
    while True:
        campaign = request(args, "GET", path)
        if args.json:
            print(json.dumps(campaign, indent=1))
            return 0
        print(f"{campaign['name']} ({campaign['id']}), wave {campaign['wave']} of {len(campaign['wave_sizes'])}")
        print(progress_line(campaign))
        if not args.watch or not campaign["progress"]["in_flight"] or campaign["status"] == "completed":
            break
        time.sleep(2)
    print(f"{'charger':<16} {'wave':>4} {'state':<18} {'target':<10} {'tries':>5} detail")
    for t in campaign["chargers"]:
        print(f"{t['id']:<16} {t['wave']:>4} {t['state']:<18} {t['target_version']:<10} {t['attempts']:>5} "
              f"{t['detail'] or ''}")
    return 0


def campaign_action(args) -> int:
    answer = request(args, "POST", f"/v1/firmware/campaigns/{_quote(args.campaign_id)}/{args.action}")
    if args.json:
        print(json.dumps(answer, indent=1))
        return 0
    campaign = answer.get("campaign", answer)
    if "retried" in answer:
        print(f"{answer['retried']} chargers queued again")
    print(progress_line(campaign))
    return 0


def request_diagnostics(args) -> int:
    answer = request(args, "POST", f"/v1/chargers/{_quote(args.charge_point_id)}/diagnostics", {})
    print(json.dumps(answer, indent=1) if args.json else f"diagnostics request {answer['id']} sent to {answer['charger']}")
    return 0


def list_diagnostics(args) -> int:
    rows = request(args, "GET", f"/v1/chargers/{_quote(args.charge_point_id)}/diagnostics")
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        size = f"{r['size_bytes']:,} bytes" if r["size_bytes"] is not None else ""
        print(f"{r['id']:<13} {r['requested_at']:<25} {r['status']:<12} {r['file_name'] or '':<32} {size}")
    return 0


def download_diagnostics(args) -> int:
    rows = request(args, "GET", f"/v1/chargers/{_quote(args.charge_point_id)}/diagnostics")
    row = next((r for r in rows if r["id"] == args.request_id), None)
    if row is None:
        raise UsageError(f"no diagnostics request {args.request_id} on {args.charge_point_id}")
    if not row["download_url"]:
        raise UsageError(f"diagnostics {args.request_id} is {row['status']}: nothing to download yet")
    data = _transfer(args, "GET", row["download_url"], {})
    try:
        Path(args.out).write_bytes(data)
    except OSError as exc:
        raise UsageError(f"--out {args.out}: {exc}") from None
    print(f"{len(data):,} bytes written to {args.out}")
    return 0
