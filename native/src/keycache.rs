//! A small bounded cache of values per `u32` key (a key number, an entry index), shared between
//! threads, emptied when full: what the place tagger keeps of Python objects it asked for once.
//! Values are released outside the lock (releasing a Python object may run Python code).

use std::sync::{Mutex, PoisonError};

use crate::fxhash::FxHashMap as HashMap;

/// At most `limit` values; when full, the next insertion empties it first.
pub(crate) struct KeyCache<V> {
    map: Mutex<HashMap<u32, V>>,
    limit: usize,
}

impl<V> KeyCache<V> {
    pub(crate) fn new(limit: usize) -> Self {
        KeyCache {
            map: Mutex::new(HashMap::default()),
            limit: limit.max(1),
        }
    }

    /// `read(value)` of the value kept for `key`, if any (under the lock: `read` must not call
    /// Python code that could come back here).
    pub(crate) fn get<R>(&self, key: u32, read: impl FnOnce(&V) -> R) -> Option<R> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&key).map(read)
    }

    /// Keeps `value` for `key`, the cache emptied first when full.
    pub(crate) fn insert(&self, key: u32, value: V) {
        let dropped = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            let dropped = if map.len() >= self.limit {
                std::mem::take(&mut *map)
            } else {
                HashMap::default()
            };
            map.insert(key, value);
            dropped
        };
        drop(dropped); // released without the lock held
    }
}
