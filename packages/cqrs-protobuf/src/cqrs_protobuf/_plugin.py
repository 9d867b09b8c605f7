"""Hook implementations of the protobuf plugin."""
