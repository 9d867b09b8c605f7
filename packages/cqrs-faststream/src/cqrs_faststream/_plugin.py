"""Hook implementations of the faststream plugin."""
