//! A worker's end of the dispatcher's messages. The run's stop arrives as a message like
//! any other, at any time: the inbox notes it whenever it reads, and keeps the other
//! messages, in order, for whoever waits for them. A worker asks it whether the run has
//! stopped; it shares no state with the dispatcher.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvError};

use super::messages::ToWorker;
use super::reason::CancelReason;
use crate::report::TestStatus;

pub struct Inbox {
    rx: Receiver<ToWorker>,
    /// Messages read while looking for a stop, not yet asked for.
    kept: RefCell<VecDeque<ToWorker>>,
    stopped: RefCell<Option<CancelReason>>,
}

impl Inbox {
    pub fn new(rx: Receiver<ToWorker>) -> Self {
        Inbox {
            rx,
            kept: RefCell::new(VecDeque::new()),
            stopped: RefCell::new(None),
        }
    }

    /// The next message that is not the stop (a stop is noted on the way), waiting for
    /// it.
    pub fn recv(&self) -> Result<ToWorker, RecvError> {
        if let Some(m) = self.kept.borrow_mut().pop_front() {
            return Ok(m);
        }
        loop {
            match self.rx.recv()? {
                ToWorker::Stopped(reason) => self.note(reason),
                other => return Ok(other),
            }
        }
    }

    /// Whether the dispatcher has stopped the run, as far as its messages so far say.
    pub fn stopped(&self) -> bool {
        while let Ok(m) = self.rx.try_recv() {
            match m {
                ToWorker::Stopped(reason) => self.note(reason),
                other => self.kept.borrow_mut().push_back(other),
            }
        }
        self.stopped.borrow().is_some()
    }

    /// The status of a test the stop left unrun.
    pub fn not_run(&self) -> TestStatus {
        self.stopped();
        TestStatus::NotRun(match &*self.stopped.borrow() {
            Some(reason) => reason.to_string(),
            None => "the run stopped".into(),
        })
    }

    fn note(&self, reason: CancelReason) {
        self.stopped.borrow_mut().get_or_insert(reason);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn a_stop_is_noted_and_other_messages_keep_their_order() {
        let (tx, rx) = mpsc::channel();
        let inbox = Inbox::new(rx);
        assert!(!inbox.stopped());
        tx.send(ToWorker::GoOn(true)).unwrap();
        tx.send(ToWorker::Stopped(CancelReason::Requested("enough".into())))
            .unwrap();
        tx.send(ToWorker::Killed(true)).unwrap();
        assert!(inbox.stopped());
        assert!(matches!(inbox.recv(), Ok(ToWorker::GoOn(true))));
        assert!(matches!(inbox.recv(), Ok(ToWorker::Killed(true))));
        assert_eq!(
            inbox.not_run(),
            TestStatus::NotRun("the run was cancelled (enough)".into())
        );
    }

    #[test]
    fn waiting_for_an_answer_notes_a_stop_that_comes_first() {
        let (tx, rx) = mpsc::channel();
        let inbox = Inbox::new(rx);
        tx.send(ToWorker::Stopped(CancelReason::Signal(2))).unwrap();
        tx.send(ToWorker::GoOn(false)).unwrap();
        assert!(matches!(inbox.recv(), Ok(ToWorker::GoOn(false))));
        assert!(inbox.stopped());
    }
}
