"""How a metric value is shown to people: by the metric's format and unit.

The one place a value becomes text; the UI's table, chart labels and point
titles all call :func:`format_value`.
"""

from __future__ import annotations

import math
from decimal import Decimal

from metrics_catalog.definition import ValueFormat

#: Currency units written as a symbol before the amount; other units follow it (``12.00 CHF``).
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}
#: Duration units a value may be in, as seconds.
DURATION_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "ms": 0.001,
                  "millisecond": 0.001, "milliseconds": 0.001, "min": 60.0, "minute": 60.0, "minutes": 60.0,
                  "h": 3600.0, "hour": 3600.0, "hours": 3600.0, "day": 86400.0, "days": 86400.0}


def _compact(value: float) -> str:
    if abs(value) >= 1e9:
        return f"{value / 1e9:.3g}B"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:.4g}"


def _duration(seconds: float) -> str:
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds:.3g}s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    return f"{sign}{minutes}m {secs:02d}s"


def format_value(value: object, fmt: ValueFormat | str = ValueFormat.NUMBER, unit: str = "", *,
                 compact: bool = False) -> str:
    """``value`` as people read it.

    Args:
        value: A number (anything else is shown as text; ``None`` as ``—``).
        fmt: The metric's format: ``percent`` takes fractions (0.0513 is ``5.1%``), ``currency``
            writes the unit as the currency (``€1,234.50``), ``duration`` reads the value in the
            unit (seconds by default) and writes ``1h 02m``, ``integer`` rounds.
        unit: The metric's unit.
        compact: Short forms for axis labels (``1.2M``, ``€12k``).

    Returns:
        The text; the unit is part of it only for currencies and durations.
    """
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    fmt = ValueFormat.parse(fmt) if isinstance(fmt, str) else fmt
    if fmt is ValueFormat.PERCENT:
        return f"{number * 100:,.{0 if compact else 1}f}%"
    if fmt is ValueFormat.CURRENCY:
        code = unit.strip().upper()
        amount = _compact(abs(number)) if compact and abs(number) >= 1e4 else f"{abs(number):,.2f}"
        sign = "-" if number < 0 else ""
        symbol = CURRENCY_SYMBOLS.get(code)
        if symbol:
            return f"{sign}{symbol}{amount}"
        return f"{sign}{amount} {unit.strip()}".rstrip()
    if fmt is ValueFormat.DURATION:
        scale = DURATION_UNITS.get(unit.strip().lower())
        if scale is not None:
            return _duration(number * scale)
    if compact:
        return _compact(number)
    if fmt is ValueFormat.INTEGER or isinstance(value, int):
        return f"{round(number):,}"
    return f"{number:,.4g}" if abs(number) < 1e6 else f"{number:,.0f}"
