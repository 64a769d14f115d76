#!/usr/bin/env python3
"""The competition kit's runner: inpaints a track folder's X/ with a trained method.
Same arguments as `jaxpaint inpaint`.

    python tools/inpaint_folder.py --workdir RUN --input track1/X --masks track1/maskdata.json --out submission
"""

import sys

from jaxpaint.cli import main

if __name__ == "__main__":
    sys.exit(main(["inpaint", *sys.argv[1:]]))
