//! The register of a runtime's live tasks, for
//! [`Handle::metrics`](crate::Handle::metrics).
//!
//! It holds no reference: a task is listed from its spawn until it is freed,
//! and leaves the register (under its shard's lock) before its memory goes.
//! So a reader holding a shard's lock may read the listed headers.
//!
//! The lists are intrusive: each task header carries its own two links
//! ([`Links`]), so listing and unlisting allocate nothing, hash nothing and
//! cost the same at any number of tasks. Shards, picked by task id, keep
//! spawns on different threads off each other's lock.

use std::ptr;

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::{Mutex, lock};
use crate::task::TaskInfo;
use crate::task::core::{Header, TaskRef};

/// `next` of a header that was never listed, or was unlisted.
fn not_listed() -> *const Header {
    // A dangling, never-dereferenced marker distinct from null (the end of
    // a list) and from every header (which is aligned to more than 1).
    ptr::without_provenance(1)
}

/// A task's place in its shard's list. Read and written only under the lock
/// of the shard the task's id picks.
pub(crate) struct Links {
    prev: UnsafeCell<*const Header>,
    next: UnsafeCell<*const Header>,
}

impl Links {
    pub(crate) fn new() -> Links {
        Links {
            prev: UnsafeCell::new(ptr::null()),
            next: UnsafeCell::new(not_listed()),
        }
    }
}

/// The head of one shard's list.
struct Shard {
    head: *const Header,
}

// SAFETY: the listed headers are only read, and only under the shard's lock,
// which a task takes to leave the list before it is freed.
unsafe impl Send for Shard {}

pub(crate) struct Registry {
    shards: Box<[Mutex<Shard>]>,
}

/// Reads a link. Safety: the caller holds the lock of the shard that lists
/// (or would list) the link's header.
unsafe fn get(cell: &UnsafeCell<*const Header>) -> *const Header {
    // SAFETY: the shard lock, held by the caller, excludes every writer.
    cell.with(|p| unsafe { *p })
}

/// Writes a link. Safety: as for [`get`].
unsafe fn set(cell: &UnsafeCell<*const Header>, value: *const Header) {
    // SAFETY: the shard lock, held by the caller, excludes every other access.
    cell.with_mut(|p| unsafe { *p = value });
}

impl Registry {
    pub(crate) fn new(workers: usize) -> Registry {
        let n = (workers * 4).next_power_of_two();
        Registry {
            shards: (0..n)
                .map(|_| Mutex::new(Shard { head: ptr::null() }))
                .collect(),
        }
    }

    fn shard(&self, header: &Header) -> &Mutex<Shard> {
        &self.shards[header.id.as_u64() as usize & (self.shards.len() - 1)]
    }

    /// Lists a new task.
    pub(crate) fn insert(&self, task: &TaskRef) {
        let header = task.header();
        let mut shard = lock(self.shard(header));
        let old = shard.head;
        // SAFETY: we hold the lock of the header's shard, which guards the
        // links of every header it lists and of this one; `old` is listed
        // there, so it is alive.
        unsafe {
            set(&header.links.prev, ptr::null());
            set(&header.links.next, old);
            if !old.is_null() {
                set(&(*old).links.prev, header);
            }
        }
        shard.head = header;
    }

    /// Unlists a task about to be freed (a no-op if it was never listed);
    /// waits for readers of its shard.
    pub(crate) fn remove(&self, header: &Header) {
        let mut shard = lock(self.shard(header));
        // SAFETY: we hold the lock of the header's shard; its neighbours are
        // listed there, so they are alive.
        unsafe {
            let next = get(&header.links.next);
            if next == not_listed() {
                return;
            }
            let prev = get(&header.links.prev);
            if prev.is_null() {
                shard.head = next;
            } else {
                set(&(*prev).links.next, next);
            }
            if !next.is_null() {
                set(&(*next).links.prev, prev);
            }
            set(&header.links.next, not_listed());
        }
    }

    /// Calls `f` with every listed header, one shard at a time under its lock.
    fn for_each(&self, mut f: impl FnMut(&Header)) {
        for shard in self.shards.iter() {
            let shard = lock(shard);
            let mut at = shard.head;
            while !at.is_null() {
                // SAFETY: listed in this shard, whose lock we hold, so it is
                // not freed (nor unlinked) before we are done with it.
                let header = unsafe { &*at };
                f(header);
                // SAFETY: as above.
                at = unsafe { get(&header.links.next) };
            }
        }
    }

    /// How many tasks are listed, finished ones included (for leak checks).
    #[cfg(all(test, loom))]
    pub(crate) fn len(&self) -> usize {
        let mut n = 0;
        self.for_each(|_| n += 1);
        n
    }

    /// Snapshots of every listed task that has not finished.
    pub(crate) fn live(&self) -> Vec<TaskInfo> {
        let mut out = Vec::new();
        self.for_each(|header| {
            let info = header.info();
            if !info.is_finished() {
                out.push(info);
            }
        });
        out.sort_by_key(|i| i.id());
        out
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;

    use super::Registry;
    use crate::sched::Params;
    use crate::task::core::{Nowhere, new_task};

    #[test]
    fn lists_exactly_the_tasks_in_and_not_out() {
        let registry = Registry::new(1);
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                new_task(
                    async {},
                    Params::new(),
                    None,
                    crate::task::core::sched_ref(Arc::new(Nowhere)),
                )
            })
            .collect();
        for (task, _) in &tasks {
            registry.insert(task);
        }
        // Unlist a scattered third: heads, tails and middles of the shards.
        let mut kept = Vec::new();
        for (i, (task, _)) in tasks.iter().enumerate() {
            if i % 3 == 1 {
                registry.remove(task.header());
                registry.remove(task.header()); // a second time is a no-op
            } else {
                kept.push(task.header().id);
            }
        }
        let listed: Vec<_> = registry.live().iter().map(|i| i.id()).collect();
        assert_eq!(listed, kept);
        // A never-listed task is not found, and removing it changes nothing.
        let (stranger, _join) = new_task(
            async {},
            Params::new(),
            None,
            crate::task::core::sched_ref(Arc::new(Nowhere)),
        );
        registry.remove(stranger.header());
        assert_eq!(registry.live().len(), kept.len());
        for (task, _) in &tasks {
            registry.remove(task.header());
        }
        assert!(registry.live().is_empty());
    }
}
