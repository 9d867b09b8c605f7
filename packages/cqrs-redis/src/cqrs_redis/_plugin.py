"""Hook implementations of the redis plugin."""
