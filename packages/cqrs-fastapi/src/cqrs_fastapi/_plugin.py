"""Hook implementations of the fastapi plugin."""
