"""`correlator bench memory`, as a script: `python benchmarks/memory.py --help`."""

import sys

from correlator.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "memory", *sys.argv[1:]]))
