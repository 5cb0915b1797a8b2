"""The local platform's state, one start-up for everything that needs it: ``csms local`` (the
platform) and every CLI command that reads or changes chargers, sessions or signals."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from csms_local.cli import UsageError

if TYPE_CHECKING:
    from adapters.settings import Settings
    from adapters.wiring import Runtime
    from csms.operations import Principal

TABLE_PREFIX = "csms-local"
REGION = "eu-west-2"
SECRETS_KEY_FILE = "secrets.key"  # in the state dir: seals queued secrets (adapters.file_sealer)


def local_settings(dynamodb_endpoint: str, management_api_endpoint: str | None = None,
                   secrets_key_file: str | None = None) -> "Settings":
    """The local tables (``csms-local-*``) at ``dynamodb_endpoint``; calls are posted to
    ``management_api_endpoint`` (None: they stay queued); ``secrets_key_file`` seals a rotated
    AuthorizationKey in queued calls (``adapters.file_sealer``; None: key rotation is refused)."""
    from adapters.settings import Settings

    return Settings.with_prefix(TABLE_PREFIX, region=REGION, dynamodb_endpoint=dynamodb_endpoint,
                                management_api_endpoint=management_api_endpoint, secrets_key_file=secrets_key_file,
                                frame_log_always=True)  # locally every frame is logged (issue 22)


def cli_principal() -> "Principal":
    """The local operator: whoever may read the state directory."""
    from csms.operations import Principal

    return Principal("cli", operator=True)


@contextlib.contextmanager
def open_runtime(state_dir: str, need_running: bool = False) -> Iterator[Runtime]:
    """The platform's runtime for a CLI command: the running ``csms local``'s (re-plans asked of it
    over its management API), a deployed stack's (``CSMS_TARGET=aws``), or the saved state's (an
    embedded DynamoDB on the state directory, journaled: every answered write is on disk).
    ``need_running``: a command that needs a connected charger; UsageError when ``csms local`` is
    not running."""
    from adapters.settings import Settings
    from adapters.wiring import build_runtime
    from csms_local import dynamodb

    if os.environ.get("CSMS_TARGET") == "aws":
        # A deployed stack: the tables named by its CliEnvironment output, AWS credentials from the
        # usual places (docs/deploy.md).
        from adapters.settings import SettingsError

        try:
            settings = Settings.from_env()
        except SettingsError as exc:
            raise UsageError(f"{exc} (export the stack's CliEnvironment output)") from exc
        yield build_runtime(settings)
        return
    state = Path(state_dir)
    endpoint_file = state / "endpoint.json"
    for key, value in dynamodb.FAKE_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    running = json.loads(endpoint_file.read_text()) if endpoint_file.exists() else None
    if running is not None and not _alive(running.get("pid")):
        running = None  # left by a csms local that was killed (SIGKILL, power cut): its state is on disk
    if running is not None:
        settings = local_settings(running["dynamodb"], running["management_api"], str(state / SECRETS_KEY_FILE))
        if running.get("api"):  # firmware images and diagnostics behind the platform's signed links
            settings = replace(settings, local_files_dir=str(state / "files"), local_files_url=running["api"])
        try:
            runtime = build_runtime(settings, replan=lambda _cp: _ask_local_replan(running["management_api"]))
            try:
                yield runtime
            finally:
                close_frame_log(runtime)
            return
        except Exception as exc:  # a stale endpoint.json from a crashed run
            if "Could not connect" not in str(exc):
                raise
            raise UsageError(f"csms local is not answering at {running['dynamodb']}; "
                             f"remove {endpoint_file} if it is not running") from exc
    if need_running:
        raise UsageError("csms local is not running (start it first: the charger must be connected)")
    require_state(state_dir)
    from adapters.dynamo.models import create_tables
    from csms_local.private import StateDirBusy, StateLock

    try:
        lock = StateLock(state, "csms charger")  # the saved state: nobody else may write it meanwhile
    except StateDirBusy as exc:
        if exc.holder.startswith("csms local"):  # it holds the lock and has not written endpoint.json yet
            raise UsageError(f"{state} is in use by {exc.holder}, which is starting (replaying its journal): "
                             "try again in a few seconds") from None
        raise UsageError(str(exc)) from None
    server = dynamodb.EmbeddedDynamo(state_dir=state)  # durable: what it answers is on disk
    server.start()
    try:
        settings = local_settings(server.endpoint, secrets_key_file=str(state / SECRETS_KEY_FILE))
        runtime = build_runtime(settings)
        create_tables()
        legacy = state / dynamodb.LEGACY_SNAPSHOT
        if legacy.exists():
            dynamodb.restore(server.endpoint, REGION, legacy)
        yield runtime
        close_frame_log(runtime)
    finally:
        server.stop()
        lock.release()


def has_state(state_dir: str | Path) -> bool:
    """True when ``state_dir`` holds a platform's tables (what ``csms local`` leaves: the embedded
    DynamoDB's snapshot or journal, a legacy snapshot, or the running platform's endpoint file)."""
    from csms_local.dynamodb import LEGACY_SNAPSHOT
    from csms_local.journal import JOURNAL_PREFIX, SNAPSHOT

    state = Path(state_dir)
    return any((state / name).is_file() for name in (SNAPSHOT, LEGACY_SNAPSHOT, "endpoint.json")) or \
        any(state.glob(JOURNAL_PREFIX + "*"))


def require_state(state_dir: str | Path) -> None:
    """UsageError (exit 2) unless ``state_dir`` holds a platform: a mistyped ``--state-dir`` must not
    become a new, empty platform that a command then reads or writes. Only ``csms local`` (and
    ``csms demo``) make a new state."""
    if not has_state(state_dir):
        raise UsageError(f"no platform state in {state_dir} (a typo? csms local --state-dir {state_dir} makes one)")


def platform_running(state_dir: str) -> bool:
    """True while a ``csms local`` runs on ``state_dir``: its ``endpoint.json`` is there and names a
    live process (a SIGKILLed run leaves the file with a dead pid)."""
    endpoint_file = Path(state_dir) / "endpoint.json"
    try:
        running = json.loads(endpoint_file.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(running, dict) and _alive(running.get("pid"))


def close_frame_log(runtime: Runtime) -> None:
    """Write the frames this process queued (a command's CALL to a charger: ``Commander`` logs
    it) before it exits: the local frame log is written by a background thread
    (``adapters.dynamo.frame_batch``)."""
    store = runtime.frame_log.store if runtime.frame_log is not None else None
    if store is not None and hasattr(store, "close"):
        store.close()


def _alive(pid: object) -> bool:
    """False only when ``pid`` is a process id that no longer exists (True when unsure)."""
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _ask_local_replan(management_api: str) -> None:
    import urllib.request

    from csms_local.mgmt_api import REPLAN_PATH

    request = urllib.request.Request(management_api + REPLAN_PATH, data=b"{}", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


