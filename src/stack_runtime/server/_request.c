/* The plainest POST /function request, read in C (httptools.py's whole-request lane).
 *
 * whole_post(data) reads data as exactly one request of the shape an HTTP
 * client or balancer sends integrator.io's calls in:
 *
 *     POST /function HTTP/1.1\r\n
 *     Name: value\r\n            (any number, up to MAX_HEADERS)
 *     \r\n
 *     body                       (exactly Content-Length bytes, then nothing)
 *
 * and returns (headers, body): headers a dict of lower-cased names to values
 * (the last of a repeated name wins, as dict() of uvicorn's list would give),
 * body the bytes after the blank line. For anything else (or for data that is
 * not a bytes object) it returns None and
 * the request is left to uvicorn's httptools parser, which then sees the
 * bytes from the start: it is never a second opinion on what this accepts.
 * So this accepts only what that parser reads the same way, and less:
 *   - a header name of token characters, ':' straight after it;
 *   - a value of visible ASCII and inner spaces, one or more spaces before it,
 *     none after it, not empty (no tab, no control or non-ASCII byte);
 *   - one Content-Length of digits (no leading zero), no Transfer-Encoding,
 *     Connection, Proxy-Connection, Upgrade or Expect header;
 *   - the body complete and nothing after it (no pipelined request).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_HEADERS 100
#define MAX_LENGTH_DIGITS 15

static const char REQUEST_LINE[] = "POST /function HTTP/1.1\r\n";

/* RFC 9110 token characters: ALPHA, DIGIT and !#$%&'*+-.^_`|~ */
static int
is_token(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
is_value(unsigned char c)
{
    return c >= 0x20 && c <= 0x7e;
}

/* Header names that keep a request off this lane, lower-cased. */
static const char *const REFUSED[] = {
    "transfer-encoding", "connection", "proxy-connection", "upgrade", "expect", NULL,
};

static int
refused(const char *name, Py_ssize_t length)
{
    for (const char *const *each = REFUSED; *each != NULL; each++) {
        if ((Py_ssize_t)strlen(*each) == length && memcmp(*each, name, length) == 0)
            return 1;
    }
    return 0;
}

static PyObject *
whole_post(PyObject *module, PyObject *arg)
{
    const unsigned char *p, *end;
    Py_ssize_t size, count = 0;
    long long content_length = -1;
    PyObject *headers;
    char lowered[64];

    (void)module;
    if (!PyBytes_CheckExact(arg))
        Py_RETURN_NONE;
    p = (const unsigned char *)PyBytes_AS_STRING(arg);
    size = PyBytes_GET_SIZE(arg);
    end = p + size;
    if (size < (Py_ssize_t)sizeof(REQUEST_LINE) - 1
        || memcmp(p, REQUEST_LINE, sizeof(REQUEST_LINE) - 1) != 0)
        Py_RETURN_NONE;
    p += sizeof(REQUEST_LINE) - 1;

    headers = PyDict_New();
    if (headers == NULL)
        return NULL;
    for (;;) {
        const unsigned char *name = p, *value;
        Py_ssize_t name_length, value_length;
        PyObject *key, *text;
        int failed;

        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            p += 2;
            break;
        }
        if (++count > MAX_HEADERS)
            goto other;
        while (p < end && is_token(*p))
            p++;
        name_length = p - name;
        if (name_length == 0 || name_length > (Py_ssize_t)sizeof(lowered) || p >= end
            || *p != ':')
            goto other;
        p++;
        if (p >= end || *p != ' ')
            goto other;
        while (p < end && *p == ' ')
            p++;
        value = p;
        while (p < end && is_value(*p))
            p++;
        value_length = p - value;
        if (value_length == 0 || value[value_length - 1] == ' ' || end - p < 2 || p[0] != '\r'
            || p[1] != '\n')
            goto other;
        p += 2;

        for (Py_ssize_t i = 0; i < name_length; i++)
            lowered[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
        if (refused(lowered, name_length))
            goto other;
        if (name_length == 14 && memcmp(lowered, "content-length", 14) == 0) {
            if (content_length >= 0 || value_length > MAX_LENGTH_DIGITS
                || (value[0] == '0' && value_length > 1))
                goto other;
            content_length = 0;
            for (Py_ssize_t i = 0; i < value_length; i++) {
                if (value[i] < '0' || value[i] > '9')
                    goto other;
                content_length = content_length * 10 + (value[i] - '0');
            }
        }
        key = PyBytes_FromStringAndSize(lowered, name_length);
        if (key == NULL)
            goto error;
        text = PyBytes_FromStringAndSize((const char *)value, value_length);
        if (text == NULL) {
            Py_DECREF(key);
            goto error;
        }
        failed = PyDict_SetItem(headers, key, text);
        Py_DECREF(key);
        Py_DECREF(text);
        if (failed)
            goto error;
    }
    if (content_length < 0 || end - p != content_length)
        goto other;
    {
        PyObject *body = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)content_length);
        PyObject *result;
        if (body == NULL)
            goto error;
        result = PyTuple_Pack(2, headers, body);
        Py_DECREF(headers);
        Py_DECREF(body);
        return result;
    }

other:
    Py_DECREF(headers);
    Py_RETURN_NONE;
error:
    Py_DECREF(headers);
    return NULL;
}

static PyMethodDef methods[] = {
    {"whole_post", whole_post, METH_O,
     "whole_post(data): (headers, body) of the plainest whole POST /function, else None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_request", "The plainest POST /function request, read in C.", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__request(void)
{
    return PyModule_Create(&module);
}
