"""`correlator bench latency`, as a script: `python benchmarks/latency.py --help`."""

import sys

from correlator.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "latency", *sys.argv[1:]]))
