"""wsp: terraform for conda environments."""

__version__ = "0.1.0"
