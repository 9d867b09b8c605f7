"""Hook implementations of the aiobreaker plugin."""
