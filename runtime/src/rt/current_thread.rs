//! The current-thread flavor: one core, driven by `block_on` on the calling
//! thread. Tasks' wakes land in the one inbox, which unparks that thread.

use super::inbox::{Inbox, Message};
use crate::task::core::{Schedule, TaskRef};

/// What every task of a current-thread runtime can reach.
pub(crate) struct Shared {
    pub(crate) inbox: Inbox,
}

impl Schedule for Shared {
    fn submit(&self, task: TaskRef) {
        self.inbox.push(Message::Submit(task));
    }

    fn rearm(&self, task: TaskRef) {
        self.inbox.push(Message::Rearm(task));
    }
}
