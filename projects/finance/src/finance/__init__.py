"""Returns and volatility of price series."""

from finance.returns import annualised_volatility, simple_returns

__all__ = ["annualised_volatility", "simple_returns"]
