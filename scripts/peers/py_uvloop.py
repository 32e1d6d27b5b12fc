#!/usr/bin/env python3
"""py-uvloop: py_asyncio's program on uvloop (libuv underneath) — the article's last row."""
import sys

import py_asyncio

try:
    import uvloop
except ImportError:
    sys.exit("Error: uvloop is not installed — `make peers` installs it into .venv/")

if __name__ == "__main__":
    py_asyncio.run("py-uvloop", install_loop=uvloop.install)
