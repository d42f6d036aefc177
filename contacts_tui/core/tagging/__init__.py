"""Tagging rules: for senders that cannot add a category header, conditions on
a message (sender, Subject, other headers, recipient domain) that give it a
category; stored in the database, matched by one pure function, tried on the
mail of the past before they go live."""
