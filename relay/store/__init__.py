"""The relay log and the captured messages: the relay's writes to the database, batched off the event loop."""
