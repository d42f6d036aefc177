"""Widgets of the admin TUI."""
