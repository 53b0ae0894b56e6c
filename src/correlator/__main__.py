"""``python -m correlator``: the same command line as the ``correlator`` script."""

from correlator.cli import main

raise SystemExit(main())
