"""`correlator bench noise`, as a script: `python benchmarks/noise.py --help`."""

import sys

from correlator.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "noise", *sys.argv[1:]]))
