"""Delivery: the scheduler takes queued messages to the upstream over a pool of
reused SMTP connections, retries with backoff, and bounces what fails for good."""
