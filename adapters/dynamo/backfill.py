"""One-off admin path after upgrading to the indexed tables (issue 15): give items written before
the upgrade the sparse-index attributes they lack — every charger its ``fleet`` key (the operator
listing), every active session its ``active_shard`` (the scheduler), every site with a limit its
item in the sparse list of limited sites (the periodic run's site tasks, issue 16). Connected chargers join the
online index at their next connection (at most 2 hours). It scans, once, by design: never on a
per-message, per-request or periodic path.

    python -m adapters.dynamo.backfill    # with the stack's environment (csms CLI's CliEnvironment)
"""

from __future__ import annotations

import sys

from adapters.dynamo import indexes
from adapters.dynamo.models import ChargerModel, SessionModel, bind


def backfill() -> dict[str, int]:
    """Returns how many items were updated per table (idempotent: items already indexed are skipped)."""
    done = {"chargers": 0, "sessions": 0}
    for item in ChargerModel.scan(ChargerModel.fleet.does_not_exist(), attributes_to_get=["charge_point_id"]):
        ChargerModel(item.charge_point_id).update(actions=[ChargerModel.fleet.set(indexes.FLEET)],
                                                  condition=ChargerModel.charge_point_id.exists())
        done["chargers"] += 1
    for item in SessionModel.scan((SessionModel.active == True) & SessionModel.active_shard.does_not_exist(),  # noqa: E712
                                  attributes_to_get=["charge_point_id", "transaction_id"]):
        SessionModel(item.charge_point_id, item.transaction_id).update(
            actions=[SessionModel.active_shard.set(indexes.shard_of(item.charge_point_id))],
            condition=SessionModel.active == True)  # noqa: E712
        done["sessions"] += 1
    done["limited sites"] = backfill_limited_sites()
    return done


def backfill_limited_sites() -> int:
    """Sites stored before the limited-site list existed: re-put each site with a limit (one Query of
    the sites partition, no Scan; ``DynamoSites.put`` writes its list item in the same transaction).
    Idempotent. Returns how many sites were put."""
    from adapters.dynamo.sites import DynamoSites

    store = DynamoSites()
    limited = [site for site in store.listed() if site.connection_kw() is not None]
    for site in limited:
        store.put(site)
    return len(limited)


def main() -> int:
    from adapters.settings import Settings, SettingsError

    try:
        bind(Settings.from_env())
    except SettingsError as exc:
        print(f"backfill: {exc}", file=sys.stderr)
        return 2
    print(backfill())
    return 0


if __name__ == "__main__":
    sys.exit(main())
