"""``csms local``: run the platform on this machine until Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

from csms_local.cli import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser("local", help="run the platform locally (WSS gateway, DynamoDB, jobs)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--api-port", type=int, default=8444, help="the HTTP API and web page")
    parser.add_argument("--state-dir", default=".local")
    parser.add_argument("--reset", action="store_true", help="start with empty tables")
    parser.add_argument("--insecure-ws", action="store_true", help="plain ws:// instead of wss:// (testing only)")
    parser.add_argument("--tls-cert", help="server certificate chain (PEM) instead of the generated one")
    parser.add_argument("--tls-key", help="private key (PEM) for --tls-cert")
    parser.add_argument("--charger-ca", help="CA bundle (PEM) that issues chargers' client certificates "
                        "(default: a charger CA made in <state dir>/tls)")
    parser.add_argument("--cpo-name", help="subject O every charger certificate must carry "
                        "(default: the generated charger CA's O; not checked with --charger-ca unless given)")
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.set_defaults(func=run)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def _serve(args, received: list[int]) -> None:
    from csms_local import pki
    from csms_local.platform import LocalPlatform
    from csms_local.private import StateDirBusy

    # Handlers first, then ports: a SIGTERM while the platform starts (the OCPP port open, a
    # charger's StartTransaction answered) must end in a clean stop, not a kill.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    if received:  # arrived before the event loop ran
        stop.set()
    platform = LocalPlatform(state_dir=args.state_dir, host=args.host, port=args.port, reset=args.reset,
                             insecure_ws=args.insecure_ws, tls_cert=args.tls_cert, tls_key=args.tls_key,
                             api_port=args.api_port, charger_ca=args.charger_ca, cpo_name=args.cpo_name)
    try:
        await platform.start()
    except StateDirBusy as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        await platform.stop()
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    except pki.PkiError as exc:
        raise UsageError(str(exc)) from exc
    print(f"OCPP 1.6J central system listening: {platform.url}/<chargePointId>")
    if platform.ca_path:
        print(f"CA certificate (trust this on the charger): {platform.ca_path.resolve()}")
    if platform.charger_ca:
        print(f"Charger CA (client certificates, security profile 3): {Path(platform.charger_ca).resolve()}"
              f"  CPO name: {platform.cpo_name or '(not checked)'}")
    if platform.firmware_root_path:
        print(f"Firmware root (install on chargers as ManufacturerRootCertificate): {platform.firmware_root_path.resolve()}")
    print(f"Connection management API: {platform.mgmt_endpoint}")
    print(f"HTTP API: {platform.api_url}/v1 (docs/openapi.json)")
    print(f"Web page (signed in as the operator): {platform.web_url}")
    print(f"State: {platform.state_dir.resolve()}  (csms charger add <id> to register a charger)")
    print("Ctrl-C to stop.", flush=True)
    try:
        await stop.wait()
    finally:
        await platform.stop()
        print("stopped; state saved.")


def plain(name: str, label: str) -> None:
    """Print a logger's lines plainly, one a line: ``csms.frames`` (every OCPP frame both ways,
    ``csms.ocpp.frame_log``) and ``csms.alerts`` (``csms.console.alerts``) sit under Powertools'
    "csms" logger, which prints JSON at WARNING here."""
    logger = logging.getLogger(name)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(f"%(asctime)s {label} %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def run(args) -> int:
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    if args.charger_ca and not Path(args.charger_ca).is_file():
        raise UsageError(f"--charger-ca {args.charger_ca}: no such file")
    for name in ("port", "api_port"):
        if not 0 <= getattr(args, name) <= 65535:
            raise UsageError(f"--{name.replace('_', '-')} {getattr(args, name)} is not a port number")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # every botocore client says "Found credentials in environment variables" at INFO: noise here
    # (the local store's fake credentials); --verbose is for frames (csms.frames) and the platform
    logging.getLogger("botocore.credentials").setLevel(logging.WARNING)
    plain("csms.alerts", "alert")  # alerts are printed always (issue 22: csms.console.alerts)
    if args.verbose:
        plain("csms.frames", "frame")
    received: list[int] = []  # a stop signal before the event loop takes over
    previous = {sig: signal.signal(sig, lambda signum, _frame: received.append(signum)) for sig in STOP_SIGNALS}
    try:
        asyncio.run(_serve(args, received))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
