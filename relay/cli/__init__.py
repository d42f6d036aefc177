"""``contacts-relay``: the command line, one module per command; main.py reads the options and runs one."""

from .main import main

__all__ = ["main"]
