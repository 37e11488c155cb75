"""``python -m stack_runtime``: the same as the ``stack-runtime`` command."""

import sys

from .cli import main

sys.exit(main())
