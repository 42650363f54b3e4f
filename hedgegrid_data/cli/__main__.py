"""``python -m hedgegrid_data.cli``: the same as the ``hedgegrid-data`` console script."""

import sys

from hedgegrid_data.cli.main import main

sys.exit(main())
