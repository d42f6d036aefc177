"""The contact directory: the ``Directory`` service (service.py) with its rules, checks,
writes, search, history of changes and the settings stored in the database."""
