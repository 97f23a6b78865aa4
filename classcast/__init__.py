"""Pieces shared by the controller, the player and the agent: settings, panel identity, the wire protocol."""

__version__ = "0.1.0"
