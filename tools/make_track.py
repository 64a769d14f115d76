#!/usr/bin/env python3
"""The competition kit's data generator: a track folder (X/, Y/, maskdata.json, joints.json)
from a built dataset split. Same arguments as `jaxpaint data export-track`.

    python tools/make_track.py --source lspet --data-dir data --split test --out track1
"""

import sys

from jaxpaint.cli import main

if __name__ == "__main__":
    sys.exit(main(["data", "export-track", *sys.argv[1:]]))
