"""Simple returns and annualised volatility, column by column, with pandas."""

from __future__ import annotations

import math

import pandas as pd

TRADING_DAYS = 252


def simple_returns(prices: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """Period-over-period returns: p[t] / p[t-1] - 1. The first row is dropped."""
    return prices.pct_change(fill_method=None).iloc[1:]


def annualised_volatility(
    prices: pd.DataFrame | pd.Series, periods_per_year: int = TRADING_DAYS
) -> pd.Series | float:
    """Standard deviation of the simple returns, scaled to a year (sqrt-of-time rule)."""
    return simple_returns(prices).std(ddof=1) * math.sqrt(periods_per_year)
