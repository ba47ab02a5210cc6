"""``python -m zeroskip``: the same as the ``zeroskip`` command."""

import sys

from .cli import main

sys.exit(main())
