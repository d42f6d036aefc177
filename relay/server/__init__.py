"""Receiving: the SMTP listener and protocol, the handler that checks, rewrites and
commits each message, and who may relay (allowed networks, AUTH)."""
