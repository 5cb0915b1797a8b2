"""The operator console (issue 22): the frame log per charger, alerts, session tools (closing a
stuck transaction, CSV export) and the chargers that tried to connect without being registered.
What SteVe and evcc users expect to find; ``docs/api.md`` maps each feature to its route."""
