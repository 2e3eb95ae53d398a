//! A change feed that reconnects and heals: `RetryingCaller::reconnect` around an in-process
//! source that fails on schedule, printing each retry as a `tracing` line.
//!
//! The source refuses the first connection, then resets the connection every few events during
//! an incident, then settles. The feed resumes from the last event it saw (a cursor), so that
//! restarts bring no duplicates, and heals: after 3 events without an error, the next error is
//! a first retry again. Without healing, the refusal and the first three resets exhaust
//! `attempts = 4`.
//!
//! ```text
//! cargo run --example feed
//! ```

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use futures::{Stream, StreamExt, stream};
use stamina::RetryingCaller;

/// The feed's error: a refused connection or a reset one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FeedError {
    Refused,
    Reset { after: u64 },
}

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedError::Refused => f.write_str("connection refused"),
            FeedError::Reset { after } => write!(f, "connection reset after event {after}"),
        }
    }
}

impl std::error::Error for FeedError {}

/// A change log of `len` events; connection `n` (from 1) is refused if `n == 1`, and resets
/// after `resets[n - 2]` events if there is such an entry.
struct ChangeLog {
    len: u64,
    resets: Vec<u64>,
    connections: AtomicU32,
}

impl ChangeLog {
    /// Connects, streaming the events after `cursor`.
    async fn subscribe(
        &self,
        cursor: u64,
    ) -> Result<impl Stream<Item = Result<u64, FeedError>> + use<>, FeedError> {
        let n = self.connections.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(2)).await; // the handshake
        if n == 1 {
            return Err(FeedError::Refused);
        }
        let reset_after = self.resets.get(n as usize - 2).map(|k| cursor + k);
        let len = self.len;
        Ok(stream::unfold(cursor, move |at| async move {
            if at >= len {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await; // the next change
            if reset_after == Some(at) {
                return Some((Err(FeedError::Reset { after: at }), len));
            }
            Some((Ok(at + 1), at + 1))
        }))
    }
}

/// The feed's policy: 4 attempts, waits of 10 ms doubling, and healing after 3 events.
static FEED: RetryingCaller = RetryingCaller::new()
    .attempts(4)
    .wait_initial(Duration::from_millis(10))
    .wait_jitter(Duration::ZERO)
    .heal_after_items(3);

/// Follows the log to its end: every event once, in order, or the error that ended it.
async fn follow(log: &ChangeLog, caller: &RetryingCaller) -> (Vec<u64>, Option<FeedError>) {
    let cursor = AtomicU64::new(0);
    let seen = Mutex::new(Vec::new());
    let caller = caller.clone().name("feed::changes").error_aware();
    let feed = caller.reconnect(
        |_: &FeedError| true,
        || log.subscribe(cursor.load(Ordering::SeqCst)),
    );
    let mut feed = std::pin::pin!(feed);
    while let Some(event) = feed.next().await {
        match event {
            Ok(seq) => {
                cursor.store(seq, Ordering::SeqCst);
                seen.lock().unwrap().push(seq);
            }
            Err(error) => return (seen.into_inner().unwrap(), Some(error)),
        }
    }
    (seen.into_inner().unwrap(), None)
}

fn change_log() -> ChangeLog {
    // Refused once, then five resets three events apart, then a healthy connection.
    ChangeLog {
        len: 20,
        resets: vec![3, 3, 3, 3, 3],
        connections: AtomicU32::new(0),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tracing_subscriber::fmt().with_target(true).init();

    println!("== with healing: every event once, whatever the resets");
    let (events, error) = follow(&change_log(), &FEED).await;
    println!("events {events:?}, error {error:?}\n");

    println!("== the same feed without healing: the refusal and three resets exhaust 4 attempts");
    let unhealed = FEED.clone().no_healing();
    let (events, error) = follow(&change_log(), &unhealed).await;
    println!("events {events:?}, error {error:?}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use stamina::testing::TestClock;

    #[tokio::test]
    async fn the_feed_heals_and_without_healing_gives_up() {
        let clock = TestClock::new();
        let (events, error) = clock.scope(follow(&change_log(), &FEED)).await;
        assert_eq!(
            events,
            (1..=20).collect::<Vec<_>>(),
            "every event once, in order"
        );
        assert_eq!(error, None);
        // Each reset came after 3 healthy events: a first retry (10 ms) every time.
        let waits: Vec<_> = clock
            .waits()
            .iter()
            .map(|w| (w.retry_num, w.wait))
            .collect();
        assert_eq!(
            waits[0],
            (1, Duration::from_millis(10)),
            "the refused connection"
        );
        assert!(waits[1..].iter().all(|&(n, _)| n == 1), "{waits:?}");

        let clock = TestClock::new();
        let unhealed = FEED.clone().no_healing();
        let (events, error) = clock.scope(follow(&change_log(), &unhealed)).await;
        assert_eq!(error, Some(FeedError::Reset { after: 9 }));
        assert_eq!(events, (1..=9).collect::<Vec<_>>());
        assert_eq!(clock.waits().len(), 3, "4 attempts: 3 retries");
    }
}
