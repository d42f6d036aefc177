"""The commands of `contacts-tui` (cli.py parses the command line and calls them)."""
