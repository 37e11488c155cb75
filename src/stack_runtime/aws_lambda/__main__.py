"""``python -m stack_runtime.aws_lambda [HANDLER]``: the Lambda runtime entry point."""

import sys

from .bootstrap import main

sys.exit(main())
