#!/usr/bin/env python3
"""The thesis's Table 3, reproduced: `jaxpaint run --suite table3` with the same arguments.

    python experiments/reproduce_table3.py --workdir runs/table3                      # synthetic, minutes
    python experiments/reproduce_table3.py --workdir runs/table3_lspet --source lspet \\
        --data-dir DATA --pose-model RUNS/hourglass --max-test-images 200            # LSPET
"""

import sys

from jaxpaint.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--suite", "table3", *sys.argv[1:]]))
