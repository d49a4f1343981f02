//! `Room`: how a reader that takes from a full queue wakes the channel's
//! task, which holds the node's events back while a queue is full.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering, fence};

use crate::DriverWaker;

/// Shared by a bounded queue's reader and the channel's task.
///
/// The task, finding the queue full, marks the room as wanted (leaving its
/// waker) and looks again; the reader, after each item it takes, wakes the
/// task if the room was wanted. Each side orders its own write before its
/// read of the other's (a sequentially consistent fence), so a wake is
/// never lost: if the reader misses the mark, the task's second look sees
/// the room. The lock is taken only on that slow path, never per item.
#[derive(Debug, Default)]
pub(crate) struct Room {
    wanted: AtomicBool,
    waker: Mutex<Option<DriverWaker>>,
}

impl Room {
    /// The task: the queue is full; wake `task` once an item is taken.
    /// Look at the queue again after this call.
    pub(crate) fn want(&self, task: &DriverWaker) {
        if let Ok(mut waker) = self.waker.lock()
            && waker.is_none()
        {
            *waker = Some(task.clone());
        }
        self.wanted.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// The reader: an item was taken.
    pub(crate) fn freed(&self) {
        fence(Ordering::SeqCst);
        if self.wanted.load(Ordering::Relaxed)
            && self.wanted.swap(false, Ordering::Relaxed)
            && let Ok(waker) = self.waker.lock()
            && let Some(waker) = waker.as_ref()
        {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Room;
    use crate::DriverWaker;

    #[test]
    fn a_wanted_room_wakes_once_per_want() {
        let room = Room::default();
        let waker = DriverWaker::new();
        room.freed();
        assert!(!waker.take(), "not wanted: no wake");
        room.want(&waker);
        room.freed();
        assert!(waker.take(), "wanted: the reader woke the task");
        room.freed();
        assert!(!waker.take(), "one wake per want");
    }
}
