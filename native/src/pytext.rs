//! Python str <-> code points, through the stable ABI (`PyUnicode_AsUCS4`, `PyUnicode_DecodeUTF32`).

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

/// The code points of `text`.
pub(crate) fn code_points(text: &Bound<'_, PyString>) -> PyResult<Vec<u32>> {
    let n = text.len()?;
    let mut points: Vec<u32> = Vec::with_capacity(n);
    // SAFETY: `points` has room for `n` code points, the length of the live str `text`, and
    // PyUnicode_AsUCS4 writes all of them (no NUL is added) or fails; only then is the length set.
    unsafe {
        let out =
            ffi::PyUnicode_AsUCS4(text.as_ptr(), points.as_mut_ptr(), n as ffi::Py_ssize_t, 0);
        if out.is_null() && n > 0 {
            return Err(PyErr::fetch(text.py()));
        }
        points.set_len(n);
    }
    Ok(points)
}

/// The str of `points` (code points of a str: lone surrogates are kept as they were).
pub(crate) fn from_code_points<'py>(
    py: Python<'py>,
    points: &[u32],
) -> PyResult<Bound<'py, PyString>> {
    let mut order: std::ffi::c_int = if cfg!(target_endian = "little") {
        -1
    } else {
        1
    };
    // SAFETY: `points` is read as 4 * len bytes of UTF-32 in native order; the result is a new
    // reference or NULL with an exception set.
    unsafe {
        let out = ffi::PyUnicode_DecodeUTF32(
            points.as_ptr().cast(),
            (points.len() * 4) as ffi::Py_ssize_t,
            c"surrogatepass".as_ptr(),
            &mut order,
        );
        Ok(Bound::from_owned_ptr_or_err(py, out)?.cast_into_unchecked())
    }
}
