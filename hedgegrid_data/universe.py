"""``python -m hedgegrid_data.universe``: kept for existing scripts; the command is now
``hedgegrid-data universe`` (``hedgegrid_data/cli/universe.py``)."""

import sys

from hedgegrid_data.cli.universe import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m hedgegrid_data.universe"))
