"""The ClassCast player: runs on a panel, takes commands from the controller, drives the kiosk page.

No imports here: `__main__` must monkey-patch with gevent before anything imports socket or threading.
"""
