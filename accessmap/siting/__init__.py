"""siting."""
