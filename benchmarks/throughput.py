"""`correlator bench throughput`, as a script: `python benchmarks/throughput.py --help`."""

import sys

from correlator.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "throughput", *sys.argv[1:]]))
