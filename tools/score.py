#!/usr/bin/env python3
"""The competition's scoring program as a script: same arguments as `jaxpaint score`.

    python tools/score.py REFERENCE_DIR SUBMISSION_DIR [--pose-model RUN] [--out DIR]
"""

import sys

from jaxpaint.cli import main

if __name__ == "__main__":
    sys.exit(main(["score", *sys.argv[1:]]))
