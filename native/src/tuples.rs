//! Instances of a Python tuple subclass (a `NamedTuple`) built from native code as
//! `tuple.__new__(class, items)` builds them — the class's own `tp_alloc`, then the items — without
//! an argument tuple or a Python-level call. The matcher's results and the place tagger's
//! `PlaceMatch` tuples are made this way (tens per article).

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};

use crate::value_error;

/// A tuple subclass whose instances are built here.
pub(crate) struct TupleClass {
    class: Py<PyType>,
    /// The class's `tp_alloc` slot.
    alloc: ffi::allocfunc,
}

impl TupleClass {
    /// `class` must be a plain tuple subclass: `tuple.__new__(class, ())` accepts it (a Python
    /// subclass of tuple, no other C-level type in the way). Raises ValueError (`what` names it).
    pub(crate) fn new(class: &Bound<'_, PyType>, what: &str) -> PyResult<Self> {
        let tuple = class.py().get_type::<PyTuple>();
        let plain = class.is_subclass_of::<PyTuple>()?
            && tuple.getattr("__new__")?.call1((class, ())).is_ok();
        if !plain {
            return Err(value_error(format!(
                "{what} must be tuple or a Python subclass of it"
            )));
        }
        // SAFETY: every type has a tp_alloc slot (inherited from tuple at worst).
        let alloc: ffi::allocfunc = unsafe {
            let slot = ffi::PyType_GetSlot(class.as_ptr().cast(), ffi::Py_tp_alloc);
            if slot.is_null() {
                return Err(value_error(format!("{what} has no tp_alloc")));
            }
            std::mem::transmute::<*mut std::ffi::c_void, ffi::allocfunc>(slot)
        };
        Ok(TupleClass {
            class: class.clone().unbind(),
            alloc,
        })
    }

    /// An instance holding `items` (each a new reference, or NULL with a Python exception set:
    /// then that exception is raised). Every reference is consumed, stored or released, even on
    /// failure.
    ///
    /// # Safety
    /// Each item must be a new (owned) reference or NULL with an exception set.
    pub(crate) unsafe fn instance<'py, const N: usize>(
        &self,
        py: Python<'py>,
        items: [*mut ffi::PyObject; N],
    ) -> PyResult<Bound<'py, PyAny>> {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.build(py, N, items.into_iter()) }
    }

    /// An instance holding `head` (new references are taken here) then `tail` (as for
    /// [`TupleClass::instance`]).
    ///
    /// # Safety
    /// As for [`TupleClass::instance`], for each item of `tail`.
    pub(crate) unsafe fn instance_with_head<'py, const N: usize>(
        &self,
        py: Python<'py>,
        head: &[Py<PyAny>],
        tail: [*mut ffi::PyObject; N],
    ) -> PyResult<Bound<'py, PyAny>> {
        let items = head
            .iter()
            .map(|item| item.clone_ref(py).into_ptr())
            .chain(tail);
        // SAFETY: head items are new references taken here; the caller promises the tail's.
        unsafe { self.build(py, head.len() + N, items) }
    }

    /// # Safety
    /// `items` yields exactly `n` pointers, each a new reference or NULL with an exception set.
    unsafe fn build<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        items: impl Iterator<Item = *mut ffi::PyObject>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // SAFETY: `alloc` is the class's own tp_alloc (a plain tuple subclass, checked in `new`);
        // the fresh tuple has a reference count of 1, and PyTuple_SetItem steals each reference
        // given to it; the others are released here.
        unsafe {
            let obj = (self.alloc)(self.class.as_ptr().cast(), n as ffi::Py_ssize_t);
            let obj = Bound::from_owned_ptr_or_err(py, obj);
            let mut failed: Option<PyErr> = None;
            for (i, ptr) in items.enumerate() {
                if ptr.is_null() {
                    failed.get_or_insert_with(|| PyErr::fetch(py));
                } else if let Ok(obj) = &obj {
                    if ffi::PyTuple_SetItem(obj.as_ptr(), i as ffi::Py_ssize_t, ptr) != 0 {
                        failed.get_or_insert_with(|| PyErr::fetch(py));
                    }
                } else {
                    ffi::Py_DECREF(ptr);
                }
            }
            let obj = obj?;
            match failed {
                Some(err) => Err(err),
                None => Ok(obj),
            }
        }
    }
}
