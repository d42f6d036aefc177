"""The customer portal: a separate app over one signed-in customer's contact
persons. It reuses the admin UI's widgets and forms, never its app or
screens, so nothing in it can open an admin screen."""
