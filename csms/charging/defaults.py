"""Defaults of smart charging, defined once (light: no numpy, so the read side may import it)."""

# A vehicle's power when nothing better is known: 7.4 kW, a 32 A single-phase home charger.
DEFAULT_MAX_POWER_W = 7400.0
# The platform's carbon price (GBP per tonne CO2) when the operator and the driver set none:
# close to the UK ETS price of 2024.
DEFAULT_CARBON_PRICE_GBP_PER_T = 100.0
