"""The system Chromium for browser tests, started with the same flags as the demo's kiosk browsers."""

from __future__ import annotations

import os

from controller.demo_panels import CHROMIUM_FLAGS

CHROMIUM = os.environ.get("CLASSCAST_CHROMIUM", "/usr/bin/chromium")
# Playwright chooses headless mode and the window size itself.
CHROMIUM_ARGS = [flag for flag in CHROMIUM_FLAGS if not flag.startswith(("--headless", "--window-size"))]
