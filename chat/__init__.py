"""Anonymous real-time helpline chat."""

__version__ = "0.1.0"
