"""`correlator bench petshop`, as a script: `python benchmarks/petshop.py --help`."""

import sys

from correlator.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "petshop", *sys.argv[1:]]))
