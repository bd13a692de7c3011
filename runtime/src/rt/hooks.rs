//! The runtime's hooks, set on its [`Builder`](crate::Builder).
//!
//! Every call is wrapped by [`guarded`]: a panicking hook is reported on
//! stderr and the worker carries on with its scheduler state untouched (hooks
//! run between scheduler steps, never inside one).

use std::fmt;
use std::sync::Arc;

use crate::task::core::Header;
use crate::task::{SwitchReason, TaskInfo, guarded};

pub(crate) type TaskHook = Arc<dyn Fn(&TaskInfo) + Send + Sync>;
pub(crate) type SwitchInHook = Arc<dyn Fn(&TaskInfo, usize) + Send + Sync>;
pub(crate) type SwitchOutHook = Arc<dyn Fn(&TaskInfo, SwitchReason) + Send + Sync>;
pub(crate) type ThreadHook = Arc<dyn Fn() + Send + Sync>;

#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) task_spawn: Option<TaskHook>,
    pub(crate) task_terminate: Option<TaskHook>,
    pub(crate) switch_in: Option<SwitchInHook>,
    pub(crate) switch_out: Option<SwitchOutHook>,
    pub(crate) thread_start: Option<ThreadHook>,
    pub(crate) thread_stop: Option<ThreadHook>,
    pub(crate) thread_park: Option<ThreadHook>,
    pub(crate) thread_unpark: Option<ThreadHook>,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("on_task_spawn", &self.task_spawn.is_some())
            .field("on_task_terminate", &self.task_terminate.is_some())
            .field("on_switch_in", &self.switch_in.is_some())
            .field("on_switch_out", &self.switch_out.is_some())
            .field("on_thread_start", &self.thread_start.is_some())
            .field("on_thread_stop", &self.thread_stop.is_some())
            .field("on_thread_park", &self.thread_park.is_some())
            .field("on_thread_unpark", &self.thread_unpark.is_some())
            .finish()
    }
}

impl Hooks {
    /// Whether a poll has switch hooks to call.
    pub(crate) fn has_switch_hooks(&self) -> bool {
        self.switch_in.is_some() || self.switch_out.is_some()
    }

    pub(crate) fn spawned(&self, task: &Header) {
        if let Some(hook) = &self.task_spawn {
            let info = task.info();
            guarded("the on_task_spawn hook", || hook(&info));
        }
    }

    pub(crate) fn terminated(&self, task: &Header) {
        if let Some(hook) = &self.task_terminate {
            let info = task.info();
            guarded("the on_task_terminate hook", || hook(&info));
        }
    }

    pub(crate) fn switch_in(&self, info: &TaskInfo, worker: usize) {
        if let Some(hook) = &self.switch_in {
            guarded("the on_switch_in hook", || hook(info, worker));
        }
    }

    pub(crate) fn switch_out(&self, info: &TaskInfo, reason: SwitchReason) {
        if let Some(hook) = &self.switch_out {
            guarded("the on_switch_out hook", || hook(info, reason));
        }
    }

    pub(crate) fn thread_start(&self) {
        call_thread(&self.thread_start, "the on_thread_start hook");
    }

    pub(crate) fn thread_stop(&self) {
        call_thread(&self.thread_stop, "the on_thread_stop hook");
    }

    pub(crate) fn thread_park(&self) {
        call_thread(&self.thread_park, "the on_thread_park hook");
    }

    pub(crate) fn thread_unpark(&self) {
        call_thread(&self.thread_unpark, "the on_thread_unpark hook");
    }
}

fn call_thread(hook: &Option<ThreadHook>, what: &str) {
    if let Some(hook) = hook {
        guarded(what, || hook());
    }
}
