"""The customer portal's core: signing in with a code by mail (``signin``),
what a signed-in customer may do (``scope``), and the portal service that
offers exactly that to the portal's processes.

The processes that face customers (the SSH forced command, each browser
session) never open the database: ``server`` runs the portal service, which
owns it, and answers over Unix sockets what a signed-in customer may do
(``service``, over ``scope`` and ``signin``); ``client`` is what the portal
processes hold instead of a database. ``protocol`` is the wire format both
sides speak, ``sessions`` the tokens and how long they live.
"""
