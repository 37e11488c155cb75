/* The per-request log lines (logs.py), in C.
 *
 * kv_pairs(keys, values) joins "key=value" pairs with ", ", leaving out the
 * pairs whose value is None, for the usual values only: every value a str
 * (exactly) without a control character, an int (exactly, not a bool) below
 * 2**53 in size, or None. For anything else it returns None, and logs.py builds
 * the line in Python (js_string for other values, control characters escaped);
 * both give the same text where both apply, which tests/unit/core/test_logs.py checks.
 *
 * info_line(line, now) is the line as the handler writes it: the local time
 * of now (seconds since the epoch, as time.time() gives it) the way logging's
 * default asctime reads, then " INFO ", the line and a newline; None for a
 * time it does not read (before 1970, after 9999), which Python then stamps.
 *
 * keep(page, text) copies text, UTF-8, after the lines a KeptLines page holds
 * and updates the length at its start; False when it does not fit or is not
 * UTF-8.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* True when text holds a character below U+0020 or U+007F (what logs.py escapes). */
static int
has_control(PyObject *text)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);

    for (Py_ssize_t i = 0; i < length; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x20 || c == 0x7f)
            return 1;
    }
    return 0;
}

#define MAX_PAIRS 32

static PyObject *
kv_pairs(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *keys, *values, *line = NULL;
    PyObject *key_of[MAX_PAIRS], *text_of[MAX_PAIRS];
    Py_ssize_t count, used = 0, length = 0, at = 0;
    Py_UCS4 widest = 127;

    (void)module;

    if (nargs != 2 || !PyTuple_CheckExact(args[0]) || !PyTuple_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "kv_pairs(keys, values) takes two tuples");
        return NULL;
    }
    keys = args[0];
    values = args[1];
    count = PyTuple_GET_SIZE(keys);
    if (PyTuple_GET_SIZE(values) != count) {
        PyErr_SetString(PyExc_ValueError, "kv_pairs: as many values as keys");
        return NULL;
    }
    if (count > MAX_PAIRS)
        Py_RETURN_NONE;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *key = PyTuple_GET_ITEM(keys, i);
        PyObject *value = PyTuple_GET_ITEM(values, i);
        PyObject *text;

        if (value == Py_None)
            continue;
        if (!PyUnicode_CheckExact(key) || has_control(key))
            goto fallback;
        if (PyUnicode_CheckExact(value)) {
            if (has_control(value))
                goto fallback;
            text = Py_NewRef(value);
        }
        else if (PyLong_CheckExact(value)) {
            /* beyond 2**53, logs.py writes the JavaScript number (1.2e+24), not every digit */
            int overflow;
            long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
            if (overflow || number <= -(1LL << 53) || number >= (1LL << 53))
                goto fallback;
            text = PyObject_Str(value);
            if (text == NULL)
                goto error;
        }
        else {
            goto fallback;
        }
        key_of[used] = key;
        text_of[used] = text;
        used++;
        length += PyUnicode_GET_LENGTH(key) + 1 + PyUnicode_GET_LENGTH(text);
        if (PyUnicode_MAX_CHAR_VALUE(key) > widest)
            widest = PyUnicode_MAX_CHAR_VALUE(key);
        if (PyUnicode_MAX_CHAR_VALUE(text) > widest)
            widest = PyUnicode_MAX_CHAR_VALUE(text);
    }
    if (used > 1)
        length += 2 * (used - 1);
    line = PyUnicode_New(length, widest);
    if (line == NULL)
        goto error;
    for (Py_ssize_t i = 0; i < used; i++) {
        if (i > 0) {
            PyUnicode_WRITE(PyUnicode_KIND(line), PyUnicode_DATA(line), at++, ',');
            PyUnicode_WRITE(PyUnicode_KIND(line), PyUnicode_DATA(line), at++, ' ');
        }
        at += PyUnicode_CopyCharacters(line, at, key_of[i], 0, PyUnicode_GET_LENGTH(key_of[i]));
        PyUnicode_WRITE(PyUnicode_KIND(line), PyUnicode_DATA(line), at++, '=');
        at += PyUnicode_CopyCharacters(line, at, text_of[i], 0, PyUnicode_GET_LENGTH(text_of[i]));
    }
    for (Py_ssize_t i = 0; i < used; i++)
        Py_DECREF(text_of[i]);
    return line;

fallback:
    for (Py_ssize_t i = 0; i < used; i++)
        Py_DECREF(text_of[i]);
    Py_RETURN_NONE;
error:
    for (Py_ssize_t i = 0; i < used; i++)
        Py_DECREF(text_of[i]);
    return NULL;
}

/* The last second formatted and its "YYYY-mm-dd HH:MM:SS" (one per process). */
static long long date_second = -1;
static char date_text[32];
static size_t date_length;

static PyObject *
info_line(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *line, *text;
    double now;
    long long second;
    int milliseconds;
    char stamp[48];
    Py_ssize_t stamp_length, line_length;
    Py_UCS4 widest;

    (void)module;
    if (nargs != 2 || !PyUnicode_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "info_line(line, now) takes a str and a float");
        return NULL;
    }
    line = args[0];
    now = PyFloat_AsDouble(args[1]);
    if (now == -1.0 && PyErr_Occurred())
        return NULL;
    if (!(now >= 0.0 && now < 253402300800.0)) /* before 1970 or after 9999: Python's to read */
        Py_RETURN_NONE;
    second = (long long)now;
    /* int((created - second) * 1000), as logs.py computes it */
    milliseconds = (int)((now - (double)second) * 1000.0);
    if (second != date_second) {
        time_t t = (time_t)second;
        struct tm local;
        if (localtime_r(&t, &local) == NULL)
            Py_RETURN_NONE;
        date_length = strftime(date_text, sizeof(date_text), "%Y-%m-%d %H:%M:%S", &local);
        if (date_length == 0) {
            date_second = -1;
            Py_RETURN_NONE;
        }
        date_second = second;
    }
    stamp_length = snprintf(stamp, sizeof(stamp), "%s,%03d INFO ", date_text, milliseconds);
    if (stamp_length <= 0 || stamp_length >= (Py_ssize_t)sizeof(stamp))
        Py_RETURN_NONE;
    line_length = PyUnicode_GET_LENGTH(line);
    widest = PyUnicode_MAX_CHAR_VALUE(line);
    text = PyUnicode_New(stamp_length + line_length + 1, widest < 127 ? 127 : widest);
    if (text == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < stamp_length; i++)
        PyUnicode_WRITE(PyUnicode_KIND(text), PyUnicode_DATA(text), i, (unsigned char)stamp[i]);
    PyUnicode_CopyCharacters(text, stamp_length, line, 0, line_length);
    PyUnicode_WRITE(PyUnicode_KIND(text), PyUnicode_DATA(text), stamp_length + line_length, '\n');
    return text;
}

static PyObject *
keep(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer page;
    const char *data;
    Py_ssize_t size;
    uint32_t used;
    int fits;

    (void)module;
    if (nargs != 2 || !PyUnicode_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "keep(page, text) takes a writable buffer and a str");
        return NULL;
    }
    data = PyUnicode_AsUTF8AndSize(args[1], &size);
    if (data == NULL) { /* not UTF-8 (a lone surrogate): not kept, written at once */
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    if (PyObject_GetBuffer(args[0], &page, PyBUF_WRITABLE) < 0)
        return NULL;
    fits = 0;
    if (page.len >= (Py_ssize_t)sizeof(used)) {
        memcpy(&used, page.buf, sizeof(used));
        if ((Py_ssize_t)used <= page.len - (Py_ssize_t)sizeof(used)
            && size <= page.len - (Py_ssize_t)sizeof(used) - (Py_ssize_t)used) {
            memcpy((char *)page.buf + sizeof(used) + used, data, (size_t)size);
            used += (uint32_t)size;
            memcpy(page.buf, &used, sizeof(used));
            fits = 1;
        }
    }
    PyBuffer_Release(&page);
    return PyBool_FromLong(fits);
}

static PyMethodDef methods[] = {
    {"kv_pairs", (PyCFunction)(void (*)(void))kv_pairs, METH_FASTCALL,
     "kv_pairs(keys, values): 'k=v, k=v' for plain values, else None."},
    {"info_line", (PyCFunction)(void (*)(void))info_line, METH_FASTCALL,
     "info_line(line, now): the line as the handler writes it at now."},
    {"keep", (PyCFunction)(void (*)(void))keep, METH_FASTCALL,
     "keep(page, text): text added to a KeptLines page; False when it does not fit."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_lines", "The per-request log lines, in C.", -1, methods,
};

PyMODINIT_FUNC
PyInit__lines(void)
{
    return PyModule_Create(&module);
}
