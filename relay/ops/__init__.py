"""Running the relay as a service: what it counts (metrics), whether it is fit to take mail
(health), the HTTP endpoint that serves both, and the process log."""
