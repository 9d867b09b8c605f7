"""Hook implementations of the di plugin."""
