/* The key=value text of the per-request log lines (logs.kv_pairs), in C.
 *
 * kv_pairs(keys, values) joins "key=value" pairs with ", ", leaving out the
 * pairs whose value is None, for the usual values only: every value a str
 * (exactly) without a control character, an int (exactly, not a bool) or None.
 * For anything else it returns None, and logs.py builds the line in Python
 * (js_string for other types, control characters escaped); both give the
 * same text where both apply, which tests/unit/test_logs.py checks.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

static PyMethodDef methods[] = {
    {"kv_pairs", (PyCFunction)(void (*)(void))kv_pairs, METH_FASTCALL,
     "kv_pairs(keys, values): 'k=v, k=v' for plain values, else None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_lines", "The per-request log lines' text, in C.", -1, methods,
};

PyMODINIT_FUNC
PyInit__lines(void)
{
    return PyModule_Create(&module);
}
