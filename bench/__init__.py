"""The benchmark: stack-runtime against the floor of a Python host and the Node reference."""
