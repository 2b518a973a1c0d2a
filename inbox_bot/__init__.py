"""inbox-bot: a privacy inbox assistant for data protection officers."""

__version__ = "0.1.0"
