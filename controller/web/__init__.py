"""The controller's web layer: one blueprint (and Socket.IO namespace) per feature."""
