#!/usr/bin/env python3
"""Train and test GTA models with PySlowFast's own trainer: ``python projects/gta/run_net.py
--cfg CONFIG [KEY VALUE ...]`` (``--help`` for the options)."""

import sys

from gta_slowfast.engine.launch import main

if __name__ == "__main__":
    sys.exit(main())
