"""Run the command line with ``python -m poster``."""

from poster.cli import main

raise SystemExit(main())
