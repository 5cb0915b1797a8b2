"""What operators and drivers can do: the facade behind the HTTP API and the CLI over each
capability's operations, built from the same ports. Every check of the callers and their input is
in those operations, once:

- ``csms.views.operations`` (the fleet, a charger, review items, a command's result) and
  ``csms.views.session_operations`` (sessions);
- ``csms.ocpp.operations`` (register, delete, keys, commands) and ``csms.ocpp.security_operations``;
- ``csms.charging.operations`` (a driver's preference, grid-demand events, signals);
- ``csms.firmware.operations`` (firmware and diagnostics), hung on ``firmware``.

Who may see what (``Principal``, the refusals) is ``csms.access``; its names stay importable here.
No AWS here: the ports are declared in ``csms.views.ports``, ``csms.charging.ports`` and ``csms.ocpp.ports``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Callable, Protocol

from csms.access import REFUSALS, Access, Conflict, Forbidden, Invalid, NotFound, Principal, require_operator
from csms.charging.operations import ChargingOperations
from csms.charging.ports import EventStore, Replan, SignalStore
from csms.ocpp.commands import Commander
from csms.ocpp.operations import ChargerOperations
from csms.ocpp.ports import ChargerCredentials, ChargerSecurity, FailureStore, SecurityEventLog
from csms.views.operations import FleetOperations
from csms.views.ports import (CallRecords, ChargerDirectory, ConnectorReader, DriverLinks, MeterReader, ReviewReader,
                              SessionHistory)
from csms.views.session_operations import SessionOperations

if TYPE_CHECKING:  # csms.firmware builds on the refusals
    from csms.authorization.operations import AuthorizationOperations
    from csms.firmware.operations import FirmwareOperations
    from csms.onboarding.operations import OnboardingOperations
    from csms.console.operations import ConsoleOperations
    from csms.charging.site_ops import SiteOperations

__all__ = ["REFUSALS", "Conflict", "Forbidden", "Invalid", "NotFound", "Operations", "OperatorChargers", "Principal"]


class OperatorChargers(ChargerDirectory, ChargerCredentials, ChargerSecurity, Protocol):
    """The charger store as operations use it: the directory, and registering / deleting / keys."""


class Operations:
    """What operators and drivers do (the HTTP API's routes and the CLI). Seams: the ports below,
    ``commander`` (platform-initiated calls), ``replan`` (see ``csms.charging.ports.Replan``),
    ``clock`` (UTC), ``review`` (messages kept for review), ``failures`` (handshake failure counters,
    ``csms.ocpp.lockout``) and ``links`` (driver link periods, ``csms.views.driver_links``; None: a
    driver sees every session of their chargers); ``firmware``: the firmware and diagnostics
    operations (``csms.firmware.operations.FirmwareOperations``; None: the firmware routes answer 503)."""

    _operator = staticmethod(require_operator)  # for capability operations built on the facade

    def __init__(self, *, chargers: OperatorChargers, connectors: ConnectorReader, sessions: SessionHistory,
                 meter: MeterReader, calls: CallRecords, commander: Commander, signals: SignalStore,
                 events: EventStore, replan: Replan, clock: Callable[[], datetime],
                 review: ReviewReader | None = None, failures: FailureStore | None = None,
                 links: DriverLinks | None = None, firmware: FirmwareOperations | None = None,
                 security_events: SecurityEventLog | None = None,
                 authorization: AuthorizationOperations | None = None,
                 onboarding: OnboardingOperations | None = None,
                 sites: SiteOperations | None = None,
                 console: ConsoleOperations | None = None):
        self.chargers = chargers  # the security operations read it (csms.ocpp.security_operations)
        self.firmware = firmware
        self.security_events = security_events  # SecurityEventNotifications (csms.ocpp.security_operations)
        self.authorization = authorization  # idTags, policies, reservations (csms.authorization.operations)
        self.onboarding = onboarding  # integration reports and the active check (csms.onboarding.operations)
        self.sites = sites  # sites and targeted grid-demand events (issue 16); None: those routes answer 503
        self.console = console  # the operator console (issue 22): frame log, alerts, session tools, unknown chargers
        # The seams, for capability operations built on this facade (onboarding, the console)
        self.connectors, self.sessions, self.meter, self.calls = connectors, sessions, meter, calls
        self.commander, self.signals, self.events, self.replan = commander, signals, events, replan
        self.clock, self.review, self.failures, self.links = clock, review, failures, links
        access = Access(chargers, links, clock)
        self._visible = access.visible  # for capability operations built on the facade (csms.access)
        fleet = FleetOperations(access, chargers, connectors, meter, calls, review)
        self.chargers_page, self.list_chargers, self.get_charger = fleet.chargers_page, fleet.list_chargers, fleet.get_charger
        self.review_items, self.command_result = fleet.review_items, fleet.command_result
        history = SessionOperations(access, sessions, meter, signals, links, clock)
        self.list_sessions, self.get_session = history.list_sessions, history.get_session
        manage = ChargerOperations(access, chargers, commander, failures, clock)
        self.register_charger, self.delete_charger, self.link_driver = (manage.register_charger, manage.delete_charger,
                                                                        manage.link_driver)
        self.rotate_key, self.set_legacy_handshake, self.send_command = (manage.rotate_key, manage.set_legacy_handshake,
                                                                         manage.send_command)
        self.charger_auth_failures, self.source_auth_failures = manage.charger_auth_failures, manage.source_auth_failures
        charging = ChargingOperations(access, chargers, signals, events, replan, clock)
        self.get_preference, self.set_preference = charging.get_preference, charging.set_preference
        self.list_events, self.create_event, self.cancel_event = (charging.list_events, charging.create_event,
                                                                  charging.cancel_event)
        self.current_signals = charging.current_signals
