"""Screens of the admin TUI."""
