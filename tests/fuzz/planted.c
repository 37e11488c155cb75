/* Two planted bugs, to prove that the sanitized build of tests/fuzz catches them:
 * past_end(data) reads 8 bytes past the end of a bytes object (AddressSanitizer),
 * overflow(n) adds 1 to a signed int n (UBSan, for n = INT_MAX). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *
past_end(PyObject *module, PyObject *arg)
{
    (void)module;
    if (!PyBytes_Check(arg))
        return NULL;
    const volatile char *data = PyBytes_AS_STRING(arg);
    return PyLong_FromLong(data[PyBytes_GET_SIZE(arg) + 8]);
}

static PyObject *
overflow(PyObject *module, PyObject *arg)
{
    (void)module;
    volatile int n = (int)PyLong_AsLong(arg);
    return PyLong_FromLong(n + 1);
}

static PyMethodDef methods[] = {
    {"past_end", past_end, METH_O, NULL},
    {"overflow", overflow, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_planted", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__planted(void)
{
    return PyModule_Create(&module);
}
