//! No task memory outlives its last reference: live allocations return to
//! their starting level after tasks of every kind (completed, panicked,
//! aborted, detached, woken from another thread, blocked while owing service)
//! on both flavors. A counting global allocator sees every leaked task cell,
//! even ones whose future and output were dropped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;
use tests::spin;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One round of every kind of task on a fresh runtime, which is then dropped.
fn round(mut builder: runtime::Builder) {
    let rt = builder.build().unwrap();
    let wakers: Arc<Mutex<Vec<Waker>>> = Arc::default();
    rt.block_on(async {
        let mut handles = Vec::new();
        for i in 0..50u32 {
            // Completes.
            handles.push(runtime::spawn(async move { Ok::<_, ()>(vec![i; 8]) }));
            // Panics.
            handles.push(runtime::spawn(async move {
                if i < 100 {
                    panic!("boom {i}");
                }
                Ok(Vec::new())
            }));
            // Aborted while blocked forever.
            let pending = runtime::spawn(std::future::pending::<Result<Vec<u32>, ()>>());
            pending.abort();
            handles.push(pending);
            // Detached: the handle is dropped at once.
            drop(runtime::spawn(async move { vec![i; 8] }));
            // Blocks once, woken from another thread later.
            let w1 = wakers.clone();
            handles.push(runtime::spawn(async move {
                let mut parked = false;
                std::future::poll_fn(|cx| {
                    if parked {
                        return Poll::Ready(());
                    }
                    parked = true;
                    w1.lock().unwrap().push(cx.waker().clone());
                    Poll::Pending
                })
                .await;
                Ok(Vec::new())
            }));
            // Runs long enough to owe service, then blocks (delayed), and is
            // woken from another thread too.
            let w2 = wakers.clone();
            handles.push(runtime::spawn(async move {
                spin(Duration::from_micros(200));
                let mut parked = false;
                std::future::poll_fn(|cx| {
                    if parked {
                        return Poll::Ready(());
                    }
                    parked = true;
                    w2.lock().unwrap().push(cx.waker().clone());
                    Poll::Pending
                })
                .await;
                Ok(Vec::new())
            }));
        }
        // Blocking jobs that use the runtime from inside: each holds a
        // handle while it runs.
        for i in 0..10u32 {
            handles.push(runtime::task::spawn_blocking(move || {
                let handle = runtime::Handle::current();
                let task = handle.spawn(async move { vec![i; 8] });
                Ok(handle.block_on(task).unwrap())
            }));
        }
        let waker_thread = {
            let wakers = wakers.clone();
            std::thread::spawn(move || {
                let mut woken = 0;
                while woken < 100 {
                    let batch: Vec<Waker> = std::mem::take(&mut *wakers.lock().unwrap());
                    woken += batch.len();
                    for w in batch {
                        w.wake();
                    }
                    std::thread::yield_now();
                }
            })
        };
        for h in handles {
            let _ = h.await;
        }
        waker_thread.join().unwrap();
    });
    // Tasks left at drop: blocked forever, never woken; blocking jobs still
    // running or queued.
    for _ in 0..20 {
        rt.spawn(std::future::pending::<()>());
        rt.spawn_blocking(|| std::thread::sleep(Duration::from_millis(1)));
    }
    drop(rt);
}

#[test]
fn tasks_free_their_memory() {
    // Silence the expected panics of the panicking tasks.
    std::panic::set_hook(Box::new(|_| {}));
    let flavors = || {
        let mut multi = runtime::Builder::new_multi_thread();
        multi.worker_threads(2);
        [runtime::Builder::new_current_thread(), multi]
    };
    // Warm up: thread-locals, lazily allocated statics, the panic machinery.
    for b in flavors() {
        round(b);
    }
    let before = LIVE.load(Ordering::SeqCst);
    for _ in 0..5 {
        for b in flavors() {
            round(b);
        }
    }
    // One leaked task cell is well over 100 bytes; 5 rounds of 320 tasks
    // leaking even one each would show up as tens of kilobytes. A blocking
    // thread that ended its last job may still be exiting (freeing its name
    // and thread-locals) when the runtime is dropped: on a loaded machine
    // that takes a moment, so the count gets a few seconds to settle. A real
    // leak never does.
    let settle = std::time::Instant::now() + Duration::from_secs(5);
    let mut leaked = LIVE.load(Ordering::SeqCst) - before;
    while leaked >= 4096 && std::time::Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(10));
        leaked = LIVE.load(Ordering::SeqCst) - before;
    }
    assert!(
        leaked < 4096,
        "{leaked} bytes still allocated after the runtimes were dropped"
    );
}
