"""Hook implementations of the dependency-injector plugin."""
