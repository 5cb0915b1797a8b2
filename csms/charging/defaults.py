"""Defaults of smart charging, defined once (light: no numpy, so the read side and the sender may
import it)."""

import math

# A vehicle's power when nothing better is known: 7.4 kW, a 32 A single-phase home charger.
DEFAULT_MAX_POWER_W = 7400.0
# The platform's carbon price (GBP per tonne CO2) when the operator and the driver set none:
# close to the UK ETS price of 2024.
DEFAULT_CARBON_PRICE_GBP_PER_T = 100.0


def whole_w(power_w: float) -> int:
    """A plan's power as a profile's limit: whole W, rounded DOWN (a micro-watt of LP tolerance
    aside), so the limits sent never add up to more than the plan, whose site and event caps then
    hold to the watt (rounding to nearest put a site 2 W over its limit with four vehicles)."""
    return int(math.floor(power_w + 1e-6))
