/* The result check of results.py, in C: is a value plain JSON data?
 *
 * True when the value and everything in it has exactly one of the types dict,
 * list, str, int, float, bool or None (no subclass, no tuple, enum or UUID),
 * nested at most MAX_DEPTH levels below the value. The walk runs with the GIL
 * held and calls no Python code, so nothing can change the value meanwhile.
 * results.py holds the pure-Python version, used when this module is not built;
 * tests/unit/core/test_results.py checks that both agree.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define MAX_DEPTH 256

/* A str, int, float, bool or None: the leaves, checked without a call. */
static inline int
leaf(PyObject *value)
{
    PyTypeObject *type = Py_TYPE(value);
    return type == &PyUnicode_Type || type == &PyLong_Type || type == &PyFloat_Type
           || type == &PyBool_Type || value == Py_None;
}

static int
plain(PyObject *value, int depth)
{
    PyTypeObject *type = Py_TYPE(value);

    if (depth > MAX_DEPTH)
        return 0;
    if (leaf(value))
        return 1;
    if (type == &PyList_Type) {
        Py_ssize_t size = PyList_GET_SIZE(value);
        if (depth == MAX_DEPTH) /* its items would be one level too deep */
            return size == 0;
        for (Py_ssize_t i = 0; i < size; i++) {
            PyObject *item = PyList_GET_ITEM(value, i);
            if (!leaf(item) && !plain(item, depth + 1))
                return 0;
        }
        return 1;
    }
    if (type == &PyDict_Type) {
        Py_ssize_t position = 0;
        PyObject *key, *item;
        if (depth == MAX_DEPTH)
            return PyDict_GET_SIZE(value) == 0;
        while (PyDict_Next(value, &position, &key, &item)) {
            if (!leaf(key) || (!leaf(item) && !plain(item, depth + 1)))
                return 0;
        }
        return 1;
    }
    return 0;
}

static PyObject *
is_plain_json(PyObject *module, PyObject *value)
{
    return PyBool_FromLong(plain(value, 0));
}

static PyMethodDef methods[] = {
    {"is_plain_json", is_plain_json, METH_O,
     "True when the value and everything in it has exactly a JSON type."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_plain", "The result check, in C.", -1, methods,
};

PyMODINIT_FUNC
PyInit__plain(void)
{
    return PyModule_Create(&module);
}
