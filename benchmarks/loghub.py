"""`correlator bench loghub`, as a script: `python benchmarks/loghub.py --help`."""

import sys

from correlator.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "loghub", *sys.argv[1:]]))
