"""Mail as the core sees it: whom the relay copies (resolver), the relay log and captured
messages read back, views of a message for people, chaos rules, sample notifications."""
