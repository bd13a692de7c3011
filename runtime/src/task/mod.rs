//! Tasks: the state machine every task's lifecycle runs through.
//!
//! For now this holds the state word and its transitions, model-checked under
//! loom; task allocation, wakers and `JoinHandle` build on it.

pub(crate) mod state;
