"""heap."""
