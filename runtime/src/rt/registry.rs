//! The register of a runtime's live tasks, for
//! [`Handle::metrics`](crate::Handle::metrics).
//!
//! It holds no reference: a task is listed from its spawn until it is freed,
//! and leaves the register (under its shard's lock) before its memory goes.
//! So a reader holding a shard's lock may read the listed headers. Shards,
//! picked by task id, keep spawns on different threads off each other's lock.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ptr::NonNull;

use crate::loom::sync::{Mutex, lock};
use crate::task::TaskInfo;
use crate::task::core::{Header, TaskRef};

/// Task ids are sequential and unique: a multiply spreads them into a hash.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        // Ids are sequential: spread them over all 64 bits (Fibonacci
        // hashing), since the table also uses the top bits as tags.
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

struct Listed(NonNull<Header>);

// SAFETY: a listed header is only read, and only under its shard's lock,
// which the task takes before it is freed.
unsafe impl Send for Listed {}

type Shard = HashMap<u64, Listed, BuildHasherDefault<IdHasher>>;

pub(crate) struct Registry {
    shards: Box<[Mutex<Shard>]>,
}

impl Registry {
    pub(crate) fn new(workers: usize) -> Registry {
        let n = (workers * 4).next_power_of_two();
        Registry {
            shards: (0..n).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }

    fn shard(&self, id: u64) -> &Mutex<Shard> {
        &self.shards[id as usize & (self.shards.len() - 1)]
    }

    /// Lists a new task.
    pub(crate) fn insert(&self, task: &TaskRef) {
        let header = task.header();
        let id = header.id.as_u64();
        lock(self.shard(id)).insert(id, Listed(NonNull::from(header)));
    }

    /// Unlists a task about to be freed; waits for readers of its shard.
    pub(crate) fn remove(&self, header: &Header) {
        let id = header.id.as_u64();
        lock(self.shard(id)).remove(&id);
    }

    /// How many tasks are listed, finished ones included (for leak checks).
    #[cfg(all(test, loom))]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// Snapshots of every listed task that has not finished.
    pub(crate) fn live(&self) -> Vec<TaskInfo> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let shard = lock(shard);
            for Listed(header) in shard.values() {
                // SAFETY: listed, and we hold its shard's lock, so it is not
                // freed before we are done (see the module docs).
                let info = unsafe { header.as_ref() }.info();
                if !info.is_finished() {
                    out.push(info);
                }
            }
        }
        out.sort_by_key(|i| i.id());
        out
    }
}
