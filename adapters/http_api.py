"""The operator and app HTTP API (API Gateway HTTP API, payload 2.0) on Powertools' event handler:
routes, request validation and the OpenAPI document come from the same code.

Who is calling comes from API Gateway's authorizer, never from the request: a Cognito user-pool
JWT (``sub``; the ``operators`` group makes an operator) or IAM (operators: the deploying
account's roles). The operations themselves are ``csms.operations``.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Callable, Literal, Optional, Union

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, UnauthorizedError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from csms.operations import Conflict, Forbidden, Invalid, NotFound, Operations, Principal
from csms.timeutil import BadTimestamp, TimestampOutOfRange, parse_ts

log = logging.getLogger(__name__)

OPERATOR_GROUP = "operators"
TITLE = "csms operator and app API"
VERSION = "1.0.0"

app = APIGatewayHttpResolver(enable_validation=True)


def ops() -> Operations:
    """The operations of the request being handled (passed to ``handle``)."""
    return app.context["operations"]


def _groups(value: Any) -> set[str]:
    # HTTP API JWT authorizers pass a list claim as the string "[a b]"; tests and IAM pass lists.
    if isinstance(value, list):
        return {str(v) for v in value}
    if isinstance(value, str):
        return {g for g in value.strip("[]").replace(",", " ").split() if g}
    return set()


def principal_of(event: dict) -> Principal:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    jwt = authorizer.get("jwt")
    if isinstance(jwt, dict):
        claims = jwt.get("claims") or {}
        subject = claims.get("sub")
        if isinstance(subject, str) and subject:
            return Principal(subject, OPERATOR_GROUP in _groups(claims.get("cognito:groups")))
    iam = authorizer.get("iam")
    if isinstance(iam, dict) and (iam.get("userArn") or iam.get("userId")):
        return Principal(str(iam.get("userArn") or iam.get("userId")), operator=True)
    raise UnauthorizedError("no caller identity: sign in (Cognito) or sign the request (IAM)")


def caller() -> Principal:
    return principal_of(app.current_event.raw_event)


def _error(status: int, message: str) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps({"message": message}))


def _decoded_path_parameters(app_, next_middleware):
    """Path parameters arrive percent-encoded (HTTP API and the local server pass the raw path):
    ``/v1/chargers/ZONE%7C7%20B`` names the charger ``ZONE|7 B``, as its OCPP URL does (issue 14)."""
    from urllib.parse import unquote

    args = app_.context.get("_route_args") or {}
    app_.append_context(_route_args={k: unquote(v) if isinstance(v, str) else v for k, v in args.items()})
    return next_middleware(app_)


app.use(middlewares=[_decoded_path_parameters])


# The operations' refusals, as HTTP statuses with the operation's own message
for _refusal, _status in ((NotFound, 404), (Forbidden, 403), (Invalid, 400), (Conflict, 409)):
    app.exception_handler(_refusal)(lambda exc, status=_status: _error(status, str(exc)))


@app.exception_handler(RequestValidationError)
def _validation(exc: RequestValidationError) -> Response:
    details = [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in exc.errors()]
    message = "; ".join(".".join(str(p) for p in d["loc"]) + ": " + str(d["msg"] or d["type"]) for d in details)
    return Response(status_code=422, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps({"message": message, "detail": details}))


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported_type(exc: RequestUnsupportedContentType) -> Response:
    return _error(415, "the body must be JSON (Content-Type: application/json)")


@app.not_found
def _no_route(exc: NotFoundError) -> Response:
    """404 for a path no route has; 405 with ``Allow`` (RFC 9110 section 15.5.6) for a method it lacks."""
    path = app.context.get("_path") or ""
    allowed = sorted({r.method for r in app._static_routes + app._dynamic_routes if r.rule.match(path)})
    if not allowed:
        return _error(404, "Not Found")
    response = _error(405, f"{app.current_event.http_method} is not allowed here; use {', '.join(allowed)}")
    response.headers["Allow"] = ", ".join(allowed)
    return response


# ------------------------------------------------------------------ models
def _naive_is_utc(value: Any) -> Any:
    """A time (or a date: its midnight) without a zone is UTC, as the CLI reads it
    (``csms.timeutil.parse_ts``; ``csms_local.cmd_api.TIME_FORM``); anything else is left to the schema's
    own check and message; a time out of range is refused here (a 422, not a 500 where it overflows)."""
    if isinstance(value, str):
        try:
            return parse_ts(value)
        except TimestampOutOfRange as exc:
            raise ValueError(str(exc)) from exc
        except BadTimestamp:
            pass
    return value


# Every time the API takes: ISO 8601; without a zone it is UTC (docs/api.md "Times").
UtcTime = Annotated[AwareDatetime, BeforeValidator(_naive_is_utc)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChargerIn(Strict):
    id: str = Field(min_length=1, max_length=48, description="charge point id: the last segment of the charger's URL")
    authorization_key: Optional[str] = Field(None, min_length=16, max_length=40,
                                             description="generated (40 hex characters) when omitted")
    driver: Optional[str] = Field(None, min_length=1, max_length=128, description="driver account (Cognito sub)")


class DriverIn(Strict):
    driver: Optional[str] = Field(None, min_length=1, max_length=128, description="null unlinks")


class PreferenceIn(Strict):
    departure: Optional[UtcTime] = Field(None, description="when the vehicle leaves (ISO 8601; without a zone: UTC)")
    energy_kwh: Optional[float] = Field(None, gt=0, le=1000, description="energy the driver needs")
    charge_now: bool = Field(False, description="charge at full power now, ignore prices")
    carbon_price_gbp_per_t: Optional[float] = Field(
        None, ge=0, le=10_000, description="what the driver puts on a tonne of CO2 (default: the platform's)")


class HandshakeIn(Strict):
    legacy_handshake: bool = Field(description="admit as OCPP 1.6 without the ocpp1.6 subprotocol (ocpp1.6j, none)")


class CommandIn(Strict):
    action: str = Field(min_length=1, max_length=64, description="an OCPP 1.6 central-system action")
    payload: dict[str, Any] = Field(default_factory=dict, description="its payload (validated against the schema)")


class TargetIn(Strict):
    kind: Literal["fleet", "region", "sites", "chargers"] = Field("fleet", description="what the event covers")
    ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=500, description="the region (one), site ids or charge point ids")


class EventIn(Strict):  # powers strict: a JSON true or "5" is refused, not read as 1 kW / 5 kW
    start: UtcTime
    end: UtcTime
    cap_kw: Optional[float] = Field(None, strict=True, ge=0, le=1_000_000, description="aggregate power of the target in the window (kW)")
    reduction_kw: Optional[float] = Field(None, strict=True, gt=0, le=1_000_000,
                                          description="or: power below the target's capacity (its sites' limits), kW")
    target: TargetIn = Field(default_factory=TargetIn, description="the fleet (default), a region, sites or chargers")


# ------------------------------------------------------------------ routes
@app.get("/v1/me", summary="who the caller is")
def me() -> dict:
    who = caller()
    return {"subject": who.subject, "operator": who.operator}


Limit = Annotated[int, Query(ge=1, le=100, description="page size")]
Cursor = Annotated[Optional[str], Query(max_length=2048, description="the previous page's next cursor")]
NEXT_CURSOR_HEADER = "X-Next-Cursor"


@app.get("/v1/chargers", summary="a page of the chargers the caller can see, with live state; the next "
                                 "page's cursor is in the X-Next-Cursor header (absent on the last page)")
def list_chargers(limit: Limit = 50, cursor: Cursor = None) -> Response[list]:
    rows, after = ops().chargers_page(caller(), limit, cursor)
    return Response(200, content_types.APPLICATION_JSON, rows,
                    headers={NEXT_CURSOR_HEADER: after} if after else None)


@app.post("/v1/chargers", summary="register a charger (operators); the key is shown once")
def register_charger(body: ChargerIn) -> Response[dict]:
    created = ops().register_charger(caller(), body.id, body.authorization_key, body.driver)
    return Response(201, content_types.APPLICATION_JSON, created)


@app.get("/v1/chargers/<charger_id>", summary="one charger: connectors, power, firmware, capabilities")
def get_charger(charger_id: str) -> dict:
    return ops().get_charger(caller(), charger_id)


@app.delete("/v1/chargers/<charger_id>", summary="delete a charger (operators): its key stops working")
def delete_charger(charger_id: str) -> Response[None]:
    ops().delete_charger(caller(), charger_id)
    return Response(204, content_types.APPLICATION_JSON, None)


@app.put("/v1/chargers/<charger_id>/driver", summary="link a charger to a driver account (operators)")
def link_driver(charger_id: str, body: DriverIn) -> dict:
    return ops().link_driver(caller(), charger_id, body.driver)


@app.post("/v1/chargers/<charger_id>/rotate-key",
          summary="send a new AuthorizationKey (operators): sent or queued; both keys work until the charger uses the new one")
def rotate_key(charger_id: str) -> dict:
    return ops().rotate_key(caller(), charger_id)


@app.get("/v1/chargers/<charger_id>/auth-failures",
         summary="refused handshakes for a charger in the last hour and the latest source (operators)")
def charger_auth_failures(charger_id: str) -> dict:
    return ops().charger_auth_failures(caller(), charger_id)


@app.get("/v1/auth-failures/<source>",
         summary="refused handshakes from one source IP and until when it is refused (operators)")
def source_auth_failures(source: str) -> dict:
    return ops().source_auth_failures(caller(), source)


@app.get("/v1/chargers/<charger_id>/preference", summary="the driver's departure time and energy")
def get_preference(charger_id: str) -> dict:
    return ops().get_preference(caller(), charger_id)


@app.put("/v1/chargers/<charger_id>/preference", summary="set departure time and energy; re-plans")
def set_preference(charger_id: str, body: PreferenceIn) -> dict:
    return ops().set_preference(caller(), charger_id, body.departure, body.energy_kwh, body.charge_now,
                                body.carbon_price_gbp_per_t)


@app.post("/v1/chargers/<charger_id>/commands", summary="send an OCPP command (operators); queued while offline")
def send_command(charger_id: str, body: CommandIn) -> Response[dict]:
    security_ops().check_command(charger_id, body.action, body.payload)  # never a security downgrade
    sent = ops().send_command(caller(), charger_id, body.action, body.payload)
    return Response(202, content_types.APPLICATION_JSON, sent)


@app.get("/v1/chargers/<charger_id>/commands/<command_id>", summary="a command's status and the charger's answer")
def command_result(charger_id: str, command_id: str) -> dict:
    return ops().command_result(caller(), charger_id, command_id)


@app.get("/v1/chargers/<charger_id>/review",
         summary="messages read around a quirk or flagged, with message id, reason and raw frame (operators)")
def charger_review(charger_id: str) -> list:
    return ops().review_items(caller(), charger_id)


@app.put("/v1/chargers/<charger_id>/handshake",
         summary="admit a charger offering no or a variant subprotocol as OCPP 1.6 (operators)")
def set_handshake(charger_id: str, body: HandshakeIn) -> dict:
    return ops().set_legacy_handshake(caller(), charger_id, body.legacy_handshake)


@app.get("/v1/chargers/<charger_id>/sessions", summary="a charger's sessions with energy, cost and CO2")
def charger_sessions(
    charger_id: str,
    since: Annotated[Optional[UtcTime], Query(alias="from", description="sessions still open at or after")] = None,
    until: Annotated[Optional[UtcTime], Query(alias="to", description="sessions started before")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict:
    return ops().list_sessions(caller(), charger_id, since, until, limit, cursor)


@app.get("/v1/chargers/<charger_id>/sessions/<transaction_id>",
         summary="one session: energy, cost, CO2, power timeline, prices, the plan, savings")
def get_session(charger_id: str, transaction_id: int) -> dict:
    return ops().get_session(caller(), charger_id, transaction_id)


@app.get("/v1/sessions", summary="sessions of a page of the chargers the caller can see (next_cursor continues); "
                                 "format=csv: the page as CSV, the next page's cursor in X-Next-Cursor")
def sessions(
    since: Annotated[Optional[UtcTime], Query(alias="from")] = None,
    until: Annotated[Optional[UtcTime], Query(alias="to")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    format: Annotated[str, Query(pattern="^(json|csv)$", description="json (default) or csv (issue 22)")] = "json",
) -> Response[Union[dict, str]]:
    page = ops().list_sessions(caller(), None, since, until, limit, cursor)
    if format == "csv":
        from csms.console.export import sessions_csv

        return Response(200, "text/csv; charset=utf-8", sessions_csv(page["sessions"]),
                        headers={NEXT_CURSOR_HEADER: page["next_cursor"]} if page.get("next_cursor") else None)
    return Response(200, content_types.APPLICATION_JSON, page)


@app.get("/v1/events", summary="grid-demand events that have not ended, with their targets")
def list_events() -> list:
    return site_ops().list_events(caller())


@app.post("/v1/events", summary="cap or reduce the power of the fleet, a region, sites or chargers in a window "
                                "(operators); re-plans what it covers")
def create_event(body: EventIn) -> Response[dict]:
    from csms.charging.groups import EventTarget

    created = site_ops().create_event(caller(), body.start, body.end, cap_kw=body.cap_kw, reduction_kw=body.reduction_kw,
                                      target=EventTarget(body.target.kind, tuple(body.target.ids)))
    return Response(201, content_types.APPLICATION_JSON, created)


@app.delete("/v1/events/<event_id>", summary="cancel an event (operators); re-plans")
def cancel_event(event_id: str) -> Response[None]:
    site_ops().cancel_event(caller(), event_id)
    return Response(204, content_types.APPLICATION_JSON, None)


@app.get("/v1/signals", summary="prices (p/kWh) and carbon intensity (g/kWh) from now on")
def signals(hours: Annotated[int, Query(ge=1, le=48)] = 24) -> list:
    return ops().current_signals(caller(), hours)


class RevocationIn(Strict):
    serial: Optional[str] = Field(None, min_length=1, max_length=80, description="certificate serial number (hex)")
    sha256: Optional[str] = Field(None, min_length=64, max_length=95, description="certificate SHA-256 (hex)")


class SecurityProfileIn(Strict):
    profile: int = Field(ge=2, le=3, description="OCPP security profile: 2 Basic auth, 3 client certificate")


def security_ops():
    from csms.ocpp.security_operations import SecurityOperations

    return SecurityOperations(ops())


@app.get("/v1/chargers/<charger_id>/security",
         summary="security profile, the latest connection's TLS and certificate, revoked certificates (operators)")
def charger_security(charger_id: str) -> dict:
    return security_ops().security(caller(), charger_id)


@app.post("/v1/chargers/<charger_id>/security/revocations",
          summary="revoke a certificate by serial or SHA-256; empty body: the charger's latest (operators)")
def revoke_certificate(charger_id: str, body: RevocationIn) -> Response[dict]:
    revoked = security_ops().revoke(caller(), charger_id, body.serial, body.sha256)
    return Response(201, content_types.APPLICATION_JSON, revoked)


@app.put("/v1/chargers/<charger_id>/security/profile",
         summary="hold a charger to a security profile from its next handshake; never lowered (operators)")
def set_security_profile(charger_id: str, body: SecurityProfileIn) -> dict:
    return security_ops().raise_profile(caller(), charger_id, body.profile)


# ---------------------------------------------------------- firmware management (docs/firmware.md)
from csms.firmware.campaigns import TooLarge, Unavailable  # noqa: E402

app.exception_handler(TooLarge)(lambda exc: _error(413, str(exc)))
app.exception_handler(Unavailable)(lambda exc: _error(503, str(exc)))


class ImageIn(Strict):
    vendor: str = Field(min_length=1, max_length=50, description="chargePointVendor of the chargers it is for")
    model: str = Field(min_length=1, max_length=50, description="chargePointModel of the chargers it is for")
    version: str = Field(min_length=1, max_length=50, description="the firmwareVersion chargers boot with after it")
    size_bytes: int = Field(gt=0, description="exact length of the image (the limit: 413 above it)")
    sha256: str = Field(pattern="^[0-9a-fA-F]{64}$", description="SHA-256 of the image, hex")
    signature: Optional[str] = Field(None, max_length=10_000, description="base64 signature (SignedUpdateFirmware)")
    signing_certificate: Optional[str] = Field(None, max_length=10_000, description="PEM certificate of the signer")


class WindowIn(Strict):
    start: str = Field(pattern="^[0-2][0-9]:[0-5][0-9]$", description="HH:MM local time")
    end: str = Field(pattern="^[0-2][0-9]:[0-5][0-9]$", description="HH:MM local time (before start: wraps midnight)")
    timezone: str = Field("UTC", max_length=64, description="IANA time zone (no site concept yet: default UTC)")


class CampaignIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    images: list[str] = Field(min_length=1, max_length=20, description="image ids: one per vendor/model")
    chargers: Optional[list[str]] = Field(None, max_length=10_000, description="only these chargers")
    from_versions: Optional[list[str]] = Field(None, max_length=100, description="only chargers now on these versions")
    waves_percent: list[float] = Field([1, 10, 100], min_length=1, max_length=10,
                                       description="share of the targets per wave, %; the last wave is the rest")
    max_in_flight: int = Field(50, ge=1, le=10_000, description="chargers updating at once")
    failure_threshold_percent: float = Field(10, ge=0, le=100,
                                             description="halt when a wave's failures exceed this share of the wave")
    silence_timeout_s: int = Field(7200, ge=1, le=604_800, description="a charger silent this long has timed out")
    url_ttl_s: int = Field(3600, ge=1, le=21_600, description="life of each pre-signed download URL")
    window: Optional[WindowIn] = Field(None, description="daily maintenance window; none: any time")
    force: bool = Field(False, description="update even during an active transaction")


class DiagnosticsIn(Strict):
    start: Optional[UtcTime] = Field(None, description="oldest log time wanted")
    stop: Optional[UtcTime] = Field(None, description="newest log time wanted")


@app.post("/v1/firmware/images", summary="register a firmware image (operators); answers where to upload it")
def add_image(body: ImageIn) -> Response[dict]:
    created = ops().firmware.add_image(caller(), body.vendor, body.model, body.version, body.size_bytes,
                                       body.sha256, body.signature, body.signing_certificate)
    return Response(201, content_types.APPLICATION_JSON, created)


@app.post("/v1/firmware/images/<image_id>/complete",
          summary="after the upload: check its size and SHA-256 and make the image usable in campaigns")
def complete_image(image_id: str) -> dict:
    return ops().firmware.complete_image(caller(), image_id)


@app.get("/v1/firmware/images", summary="firmware images (operators)")
def list_images() -> list:
    return ops().firmware.list_images(caller())


@app.post("/v1/firmware/campaigns", summary="start a staged firmware campaign (operators); wave 1 is sent at once")
def create_campaign(body: CampaignIn) -> Response[dict]:
    created = ops().firmware.create_campaign(
        caller(), body.name, body.images, chargers=body.chargers, from_versions=body.from_versions,
        waves_percent=body.waves_percent, max_in_flight=body.max_in_flight,
        failure_threshold_percent=body.failure_threshold_percent, silence_timeout_s=body.silence_timeout_s,
        url_ttl_s=body.url_ttl_s, window=body.window.model_dump() if body.window else None, force=body.force)
    return Response(201, content_types.APPLICATION_JSON, created)


@app.get("/v1/firmware/campaigns", summary="campaigns with their progress (counts per state)")
def list_campaigns() -> list:
    return ops().firmware.list_campaigns(caller())


@app.get("/v1/firmware/campaigns/<campaign_id>", summary="one campaign: progress and every charger's state")
def get_campaign(campaign_id: str) -> dict:
    return ops().firmware.get_campaign(caller(), campaign_id)


@app.post("/v1/firmware/campaigns/<campaign_id>/retry",
          summary="queue the failed and timed-out chargers again with new URLs; resumes a halted campaign")
def retry_campaign(campaign_id: str) -> dict:
    return ops().firmware.retry(caller(), campaign_id)


@app.post("/v1/firmware/campaigns/<campaign_id>/cancel", summary="send nothing more (updates under way are tracked)")
def cancel_campaign(campaign_id: str) -> dict:
    return ops().firmware.cancel(caller(), campaign_id)


@app.post("/v1/chargers/<charger_id>/diagnostics",
          summary="ask the charger to upload its diagnostics (GetDiagnostics with a pre-signed upload URL)")
def request_diagnostics(charger_id: str, body: DiagnosticsIn) -> Response[dict]:
    sent = ops().firmware.request_diagnostics(caller(), charger_id, body.start, body.stop)
    return Response(202, content_types.APPLICATION_JSON, sent)


@app.get("/v1/chargers/<charger_id>/diagnostics",
         summary="a charger's diagnostics requests, newest first, with download links once uploaded")
def list_diagnostics(charger_id: str) -> list:
    return ops().firmware.list_diagnostics(caller(), charger_id)


# ---------------------------------------------------------- issue 22: authorization, connectors, profiles, commands
def authorization_ops():
    """``csms.authorization.operations.AuthorizationOperations`` of the request (503 when not wired)."""
    from csms.firmware.campaigns import Unavailable

    if ops().authorization is None:
        raise Unavailable("authorization is not configured here")
    return ops().authorization


IdTagText = Annotated[str, Field(min_length=1, max_length=20, description="OCPP 1.6 IdToken (CiString20)")]


class IdTagIn(Strict):
    blocked: bool = Field(False, description="refused everywhere (idTagInfo Blocked)")
    expiry: Optional[UtcTime] = Field(None, description="refused from then on (idTagInfo Expired)")
    parent: Optional[IdTagText] = Field(None, description="parentIdTag: groups tags (a fleet card)")
    note: Optional[str] = Field(None, max_length=200, description="for people: whose card it is")


class AuthorizationIn(Strict):
    mode: str = Field(pattern="^(accept_all|id_tags|local_list)$",
                      description="accept_all (default: unknown idTags Accepted), id_tags (only known ones), "
                                  "local_list (id_tags, and the list pushed to the charger with SendLocalList)")


class ReservationIn(Strict):
    connector_id: int = Field(ge=0, le=100, description="0 reserves the charger as a whole")
    id_tag: IdTagText
    expires_at: UtcTime = Field(description="when the reservation lapses (at most 7 days ahead)")


@app.get("/v1/id-tags", summary="idTags the platform knows, with status, expiry, parent (operators)")
def list_id_tags() -> list:
    return authorization_ops().list_tags(caller())


@app.put("/v1/id-tags/<id_tag>", summary="add or change an idTag: blocked, expiry, parent (operators)")
def put_id_tag(id_tag: str, body: IdTagIn) -> dict:
    return authorization_ops().put_tag(caller(), id_tag, blocked=body.blocked, expiry=body.expiry,
                                       parent=body.parent, note=body.note)


@app.delete("/v1/id-tags/<id_tag>", summary="forget an idTag (operators)")
def delete_id_tag(id_tag: str) -> Response[None]:
    authorization_ops().delete_tag(caller(), id_tag)
    return Response(204, content_types.APPLICATION_JSON, None)


@app.get("/v1/chargers/<charger_id>/authorization",
         summary="the charger's authorization policy, local list version and answer, reservations (operators)")
def get_authorization(charger_id: str) -> dict:
    return authorization_ops().authorization(caller(), charger_id)


@app.put("/v1/chargers/<charger_id>/authorization",
         summary="set the charger's policy: accept_all, id_tags or local_list (pushes the list) (operators)")
def set_authorization(charger_id: str, body: AuthorizationIn) -> dict:
    return authorization_ops().set_policy(caller(), charger_id, body.mode)


@app.post("/v1/chargers/<charger_id>/authorization/local-list",
          summary="push every known idTag to the charger (SendLocalList Full, next version) (operators)")
def push_local_list(charger_id: str) -> Response[dict]:
    return Response(202, content_types.APPLICATION_JSON, authorization_ops().push_local_list(caller(), charger_id))


@app.post("/v1/chargers/<charger_id>/authorization/local-list/version",
          summary="ask the charger for its local list version (GetLocalListVersion) (operators)")
def check_local_list_version(charger_id: str) -> Response[dict]:
    return Response(202, content_types.APPLICATION_JSON,
                    authorization_ops().check_local_list_version(caller(), charger_id))


@app.get("/v1/chargers/<charger_id>/reservations",
         summary="the charger's reservations, newest first, with their state (operators)")
def list_reservations(charger_id: str) -> list:
    return authorization_ops().reservations(caller(), charger_id)


@app.post("/v1/chargers/<charger_id>/reservations", summary="reserve a connector for an idTag (ReserveNow) (operators)")
def reserve(charger_id: str, body: ReservationIn) -> Response[dict]:
    made = authorization_ops().reserve(caller(), charger_id, body.connector_id, body.id_tag, body.expires_at)
    return Response(202, content_types.APPLICATION_JSON, made)


@app.delete("/v1/chargers/<charger_id>/reservations/<reservation_id>",
            summary="cancel a reservation (CancelReservation) (operators)")
def cancel_reservation(charger_id: str, reservation_id: int) -> Response[dict]:
    sent = authorization_ops().cancel_reservation(caller(), charger_id, reservation_id)
    return Response(202, content_types.APPLICATION_JSON, sent)


def connector_ops():
    from csms.views.connector_ops import ConnectorOperations

    return ConnectorOperations(ops())


class CompositeIn(Strict):
    duration_s: int = Field(86_400, ge=1, le=604_800, description="how far ahead, s (GetCompositeSchedule duration)")
    unit: Optional[str] = Field(None, pattern="^(W|A)$", description="chargingRateUnit; none: the charger's choice")


@app.get("/v1/chargers/<charger_id>/connectors",
         summary="each connector: status, state, power (W), the transaction on it, its plan and reservation")
def list_connectors(charger_id: str) -> list:
    return connector_ops().connectors(caller(), charger_id)


@app.get("/v1/chargers/<charger_id>/connectors/<connector_id>/composite-schedule",
         summary="the latest composite schedule the charger reported, beside the last profile sent (operators)")
def get_composite(charger_id: str, connector_id: int) -> dict:
    return connector_ops().composite(caller(), charger_id, connector_id)


@app.post("/v1/chargers/<charger_id>/connectors/<connector_id>/composite-schedule",
          summary="ask the charger for its composite schedule (GetCompositeSchedule) (operators)")
def request_composite(charger_id: str, connector_id: int, body: CompositeIn) -> Response[dict]:
    sent = connector_ops().request_composite(caller(), charger_id, connector_id, body.duration_s, body.unit)
    return Response(202, content_types.APPLICATION_JSON, sent)


def openapi_json() -> str:
    return app.get_openapi_json_schema(title=TITLE, version=VERSION,
                                       description="Chargers, sessions with energy / cost / CO2, driver "
                                                   "preferences, commands, grid-demand events, signals, "
                                                   "firmware images and campaigns, diagnostics.")


def handle(event: dict, context: Any, operations: Operations) -> dict:
    """Resolve one payload-2.0 event with ``operations`` (the Lambda's runtime, or the CLI's); a
    hostile body (``adapters.body_guard``) is a 4xx first."""
    from adapters.body_guard import refusal

    refused = refusal(event)
    if refused is not None:
        status, message = refused
        return {"statusCode": status, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"message": message}), "isBase64Encoded": False}
    app.append_context(operations=operations)
    return app.resolve(event, context)


# ------------------------------------------- onboarding: integration reports (issue 18, docs/onboarding.md)
from csms.onboarding.operations import OnboardingOperations  # noqa: E402

REPORT_TYPES = {"json": content_types.APPLICATION_JSON, "markdown": "text/markdown; charset=utf-8",
                "html": "text/html; charset=utf-8"}


def _onboarding() -> OnboardingOperations:
    onboarding = ops().onboarding
    if onboarding is None:
        raise NotFound("integration reports are not served here")
    return onboarding


@app.get("/v1/chargers/<charger_id>/report",
         summary="the charger's integration report: every requirement pass / fail / not yet seen, with evidence "
                 "(operators); format=markdown or html gives the one-pager a manufacturer can be sent")
def charger_report(charger_id: str,
                   format: Annotated[str, Query(pattern="^(json|markdown|html)$")] = "json") -> Response[Any]:  # noqa: A002
    body = _onboarding().report(caller(), charger_id, format)
    return Response(200, REPORT_TYPES[format], body if format != "json" else json.dumps(body))


@app.post("/v1/chargers/<charger_id>/check",
          summary="start the active check during a live session (triggers, configuration, a bounded pause and "
                  "resume; the driver's plan is restored); 409 when offline or already running")
def start_check(charger_id: str) -> Response[dict]:
    return Response(202, content_types.APPLICATION_JSON, _onboarding().start_check(caller(), charger_id))


@app.get("/v1/chargers/<charger_id>/check",
         summary="the latest active check with its progress, advanced to now (poll it while it runs)")
def get_check(charger_id: str) -> dict:
    return _onboarding().check(caller(), charger_id)


@app.delete("/v1/chargers/<charger_id>/check", summary="abort the running check: the driver's plan is restored at once")
def abort_check(charger_id: str) -> dict:
    return _onboarding().abort_check(caller(), charger_id)


@app.get("/v1/models/report",
         summary="verdicts per vendor / model / firmware: per requirement how many chargers pass, fail or were "
                 "not yet seen (as of each charger's latest report)")
def models_report() -> list:
    return _onboarding().models_report(caller())


@app.get("/v1/onboarding/requirements", summary="the integration requirements table (operators)")
def onboarding_requirements() -> list:
    return _onboarding().requirements(caller())
# ------------------------------------------------------------------ sites (issue 16)
class SiteIn(Strict):  # powers strict: a JSON true or "5" is refused, not read as 1 kW / 5 kW
    name: str = Field("", max_length=80, description="what operators call it")
    region: str = Field("", max_length=64, description="DNO area / region a grid-demand event may target")
    limit_kw: Optional[float] = Field(None, strict=True, gt=0, le=100_000, description="connection limit on the sum of its chargers (kW)")
    phase_limit_a: Optional[float] = Field(None, strict=True, gt=0, le=5_000, description="or/and a per-phase limit (A)")
    phases: Literal[1, 3] = 3
    voltage_v: float = Field(230.0, strict=True, ge=100, le=480, description="phase-to-neutral voltage (V)")


def site_ops():
    """The sites' operations of the request (503 where none are wired)."""
    from csms.firmware.campaigns import Unavailable

    if ops().sites is None:
        raise Unavailable("sites are not available here")
    return ops().sites


@app.get("/v1/sites", summary="sites with their connection limits (operators)")
def list_sites() -> list:
    return site_ops().list_sites(caller())


@app.get("/v1/sites/<site_id>", summary="one site with its chargers")
def get_site(site_id: str) -> dict:
    return site_ops().get_site(caller(), site_id)


@app.put("/v1/sites/<site_id>", summary="create or replace a site (operators); its chargers are re-planned")
def put_site(site_id: str, body: SiteIn) -> Response[dict]:
    site, created = site_ops().put_site(caller(), site_id, **body.model_dump())
    return Response(201 if created else 200, content_types.APPLICATION_JSON, site)


@app.delete("/v1/sites/<site_id>", summary="remove a site; its chargers are on no site any more; 409 while a "
                                           "grid-demand event that has not ended targets it (cancel the event first)")
def delete_site(site_id: str) -> Response[None]:
    site_ops().delete_site(caller(), site_id)
    return Response(204, content_types.APPLICATION_JSON, None)


@app.put("/v1/sites/<site_id>/chargers/<charger_id>", summary="put a charger on a site (off any other); re-plans")
def assign_charger(site_id: str, charger_id: str) -> dict:
    return site_ops().assign(caller(), site_id, charger_id)


@app.delete("/v1/sites/<site_id>/chargers/<charger_id>", summary="take a charger off a site; re-plans")
def unassign_charger(site_id: str, charger_id: str) -> Response[None]:
    site_ops().unassign(caller(), site_id, charger_id)
    return Response(204, content_types.APPLICATION_JSON, None)
# ------------------------------------------------- operator console (issue 22: frame log, alerts, session
# tools, unknown chargers; csms.console.operations)
def console():
    """The console's operations; 503 where the runtime has none."""
    found = ops().console
    if found is None:
        raise Unavailable("the operator console is not configured here")
    return found


class FrameLogSwitchIn(Strict):
    hours: float = Field(ge=0, le=72, description="log every frame for this many hours from now (0: stop); "
                                                 "in AWS from the charger's next connection (within a minute)")


@app.get("/v1/chargers/<charger_id>/log",
         summary="the charger's OCPP frames in both directions, newest first (operators); the next page's "
                 "cursor is in next_cursor")
def frame_log(
    charger_id: str,
    limit: Limit = 50,
    cursor: Cursor = None,
    q: Annotated[Optional[str], Query(max_length=200, description="only frames whose text contains this")] = None,
    direction: Annotated[Optional[str], Query(pattern="^(in|out)$", description="in: from the charger; out: to it")] = None,
    after: Annotated[Optional[UtcTime], Query(description="only frames after this time (a live tail)")] = None,
) -> dict:
    return console().frame_log(caller(), charger_id, limit, cursor, q, direction, after)


@app.put("/v1/chargers/<charger_id>/log",
         summary="switch the charger's frame log on for N hours, or off (operators; always on locally)")
def switch_frame_log(charger_id: str, body: FrameLogSwitchIn) -> dict:
    return console().switch_frame_log(caller(), charger_id, body.hours)


@app.get("/v1/alerts", summary="alerts, newest first (operators): offline too long, faulted (errorCode, info, "
                               "vendorErrorCode), transaction open too long, profiles refused, repeated auth failures")
def alerts(
    hours: Annotated[float, Query(gt=0, le=720, description="alerts of the last hours")] = 24,
    kind: Annotated[Optional[str], Query(description="offline | faulted | long_transaction | profiles_refused | "
                                                     "auth_failures")] = None,
    charger: Annotated[Optional[str], Query(max_length=48, description="one charger's")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list:
    return console().list_alerts(caller(), hours, kind, charger, limit)


@app.post("/v1/chargers/<charger_id>/sessions/<transaction_id>/close",
          summary="close a stuck transaction (operators): stopped now with the energy known so far, flagged "
                  "operator_closed, the connector released")
def close_session(charger_id: str, transaction_id: int) -> dict:
    return console().close_session(caller(), charger_id, transaction_id)


@app.get("/v1/unknown-chargers",
         summary="charge point ids that tried to connect without being registered: count, first / last seen, "
                 "source (operators); register one with POST /v1/chargers")
def unknown_chargers(
    hours: Annotated[float, Query(gt=0, le=168, description="seen in the last hours")] = 168,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list:
    return console().unknown_chargers(caller(), hours, limit)


# ------------------------------------------------- sites: create only (new-user probe: csms site add overwrote)
class SiteCreateIn(SiteIn):
    id: str = Field(min_length=1, max_length=64, description="the site id")


@app.post("/v1/sites", summary="create a site (operators); 409 when the id exists (PUT /v1/sites/{id} replaces)")
def create_site(body: SiteCreateIn) -> Response[dict]:
    fields = body.model_dump()
    site, _ = site_ops().put_site(caller(), fields.pop("id"), replace=False, **fields)
    return Response(201, content_types.APPLICATION_JSON, site)


if __name__ == "__main__":  # python -m adapters.http_api > docs/openapi.json
    print(openapi_json())
