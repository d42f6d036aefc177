"""Mail as the core sees it: whom the relay copies (resolver), the relay log and captured
messages read back, views of a message for people, chaos rules, sample notifications; and
captured mail as the web inbox reads it (parts, summaries, query words, read flags)."""
