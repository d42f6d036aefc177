"""The web inbox and the Mailpit-compatible API of a capture relay (``serve --capture --http``).

An aiohttp server in a thread of its own (so no page or search holds up
mail) reads the captured messages through the core, as the TUI does; it
can read, mark read and delete them, and set the chaos triggers, but never
sends mail. Live updates come from the database itself, so every relay
process on one database, and every change made by the TUI or the command
line, reaches every open inbox.
"""
