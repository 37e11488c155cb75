"""``python -m bench``: run the benchmark (``--help`` for the options)."""

import sys

from .run import main

sys.exit(main())
