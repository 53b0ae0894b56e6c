"""`correlator bench nab`, as a script: `python benchmarks/nab.py --help`."""

import sys

from correlator.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "nab", *sys.argv[1:]]))
