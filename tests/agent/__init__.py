"""Tests of the panel's telemetry agent."""
