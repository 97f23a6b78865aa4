"""The ClassCast controller: the web UI, the REST API, Socket.IO for panels, and telemetry ingest.

The app factory lives in `controller.app`, not here: `python -m controller` and the console script
import this package before `__main__` runs, and gevent must monkey-patch before Flask, ssl and
threading are imported. Keep this file free of imports.
"""
