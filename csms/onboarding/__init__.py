"""Onboarding a charger model: the operator's integration requirements (``requirements.json``),
judged per charger from what the platform stores (the passive report), by an active check on
demand, and aggregated per vendor / model / firmware. No AWS here (ports in ``ports.py``)."""
