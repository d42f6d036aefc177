"""The customer portal's core: signing in with a code by mail, and what a signed-in customer may do."""
