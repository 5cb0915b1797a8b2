"""Authorization of idTags (OCPP 1.6 sections 4.2 Authorize, 5.15 SendLocalList, 5.13 ReserveNow):
the policy per charger, the platform's idTag list, the local authorization list pushed to a charger
and reservations. No AWS here: the ports are ``csms.authorization.ports``."""
