"""The errors of the protocol (docs/integrator-io.md) exactly as integrator.io receives them, key order included.

Written out here by hand (not taken from the package) so a test notices when the package's
texts drift from the protocol.
"""

NEITHER = {
    "code": "missing_required_field",
    "message": "Need to set either the diy or _connectorId field in extension options.",
}
NO_DIY = {
    "code": "missing_required_field",
    "message": "DIY is not configured in the extension configuration.",
}
BAD_CONNECTOR = {
    "code": "invalid_field",
    "message": "The _connectorId set in the extension options does't match any of the "
    "_connectorId's present in extension configuration.",
}
NO_FUNCTION = {
    "code": "missing_required_field",
    "message": "Missing required field function in the extension options.",
}
FUNCTION_NOT_STRING = {
    "code": "invalid_field",
    "message": "The function field in the extension options must be of type string.",
}
NO_OPTIONS = {
    "code": "missing_required_field",
    "message": "Function options haven't been provided.",
}
INVALID_FUNCTION = {
    "message": "The function passed in the extension options doesn't map to a function.",
    "code": "invalid_function",
}
NOT_SERIALIZABLE = {
    "message": "Extension response is not serializable.",
    "code": "invalid_extension_response",
}
