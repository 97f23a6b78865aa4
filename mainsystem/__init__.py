"""A stand-in for the main system («Моя школа»): its journal and library API, for the demo and the tests.

Not the real main system: made-up data, on loopback. docs/main-system-api.md describes the API as the
controller expects it, how to run this stand-in, its fault items and its request log.
"""
