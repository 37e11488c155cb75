#!/bin/sh
# stack-runtime-lambda: the wrapper script for a managed Python runtime.
#
# Set the function's environment variable
#   AWS_LAMBDA_EXEC_WRAPPER=/var/task/stack-runtime-lambda
# and Lambda starts the runtime through this script, passing the Python
# interpreter's path and the runtime's own arguments. It starts stack-runtime's
# entry point with that interpreter instead: AWS's runtime client from the
# deployment package, keeping the client context that integrator.io sends.
set -eu
python="${1:-python3}"
task_root="${LAMBDA_TASK_ROOT:-$(cd "$(dirname "$0")" && pwd)}"
export PYTHONPATH="${task_root}${PYTHONPATH:+:${PYTHONPATH}}"
exec "$python" -m stack_runtime.aws_lambda "${_HANDLER:-stack_runtime.aws_lambda.handler}"
