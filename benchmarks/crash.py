"""`correlator bench crash`, as a script: `python benchmarks/crash.py --help`."""

import sys

from correlator.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "crash", *sys.argv[1:]]))
