"""Business logic of the portal app: the only code that changes its state."""
