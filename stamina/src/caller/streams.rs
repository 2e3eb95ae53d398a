//! The streams and iterators of a [`RetryingCaller`]: see [`crate::stream`].

use std::any::type_name;
use std::fmt;
use std::future::Future;

use super::RetryingCaller;
use crate::decision::Decision;
use crate::instrumentation::{Cause, ErrorView};
use crate::sleeper::Sleeper;

impl<S, O, V> RetryingCaller<S, O, V> {
    /// A retrying stream: `make` makes a stream of results; an `Err` item that `on` retries
    /// ends it, and after the backoff `make` is called again and its stream continues the
    /// output (a restart: its items come again from the start). An error `on` declines, or the
    /// last one, is the final item, unchanged. See [`crate::stream`], and
    /// [`heal_after`](Self::heal_after) for long-lived streams. The caller's result predicate
    /// does not apply to items.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use futures::{StreamExt, stream};
    ///
    /// let caller = stamina::RetryingCaller::new().wait_initial(Duration::ZERO).wait_jitter(Duration::ZERO);
    /// let mut connections = 0;
    /// let feed = caller.stream(|_: &String| true, || {
    ///     connections += 1;
    ///     // The first connection fails after one item.
    ///     let items = if connections == 1 { vec![Ok(1), Err("reset".to_string())] } else { vec![Ok(1), Ok(2)] };
    ///     stream::iter(items)
    /// });
    /// assert_eq!(feed.collect::<Vec<_>>().await, [Ok(1), Ok(1), Ok(2)]);
    /// # }
    /// ```
    pub fn stream<T, E, D, F, St, M>(
        &self,
        on: impl FnMut(&E) -> D,
        mut make: F,
    ) -> impl futures_core::Stream<Item = Result<T, E>>
    where
        S: Sleeper,
        V: ErrorView<E, M>,
        F: FnMut() -> St,
        St: futures_core::Stream<Item = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        let connect = move || std::future::ready(Ok::<St, E>(make()));
        self.retrying_stream(on, connect, type_name::<F>())
    }

    /// A retrying stream that connects first: `connect` is an `async` fn's shape,
    /// `|| async { Ok(client.subscribe().await?) }`, returning a stream of results. A connect
    /// error and an item error both go through `on` and restart it. See
    /// [`stream`](Self::stream).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use futures::{StreamExt, stream};
    ///
    /// let caller = stamina::RetryingCaller::new().wait_initial(Duration::ZERO).wait_jitter(Duration::ZERO);
    /// let attempts = std::cell::Cell::new(0);
    /// let feed = caller.reconnect(|_: &String| true, || async {
    ///     attempts.set(attempts.get() + 1);
    ///     match attempts.get() {
    ///         1 => Err("refused".to_string()),
    ///         _ => Ok(stream::iter([Ok("hello")])),
    ///     }
    /// });
    /// assert_eq!(feed.collect::<Vec<_>>().await, [Ok("hello")]);
    /// assert_eq!(attempts.get(), 2);
    /// # }
    /// ```
    pub fn reconnect<T, E, D, F, Fut, St, M>(
        &self,
        on: impl FnMut(&E) -> D,
        connect: F,
    ) -> impl futures_core::Stream<Item = Result<T, E>>
    where
        S: Sleeper,
        V: ErrorView<E, M>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<St, E>>,
        St: futures_core::Stream<Item = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        self.retrying_stream(on, connect, type_name::<F>())
    }

    /// [`reconnect`](Self::reconnect), labelled by the user's closure type `op_type`.
    fn retrying_stream<T, E, D, F, Fut, St, M>(
        &self,
        mut on: impl FnMut(&E) -> D,
        connect: F,
        op_type: &'static str,
    ) -> impl futures_core::Stream<Item = Result<T, E>>
    where
        S: Sleeper,
        V: ErrorView<E, M>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<St, E>>,
        St: futures_core::Stream<Item = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        crate::stream::retry_stream(
            self.unstarted(),
            connect,
            move |e: &E| on(e).into(),
            |_: &E| Cause::viewed::<V, M>(),
            move || self.label(op_type),
            &self.sleeper,
            |sleeper: &&S, wait| crate::sleep::backoff(*sleeper, wait),
        )
    }

    /// A retrying iterator, sleeping the thread between attempts: [`stream`](Self::stream)
    /// for `make` returning an iterator of results.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let caller = stamina::RetryingCaller::new().wait_initial(Duration::ZERO).wait_jitter(Duration::ZERO);
    /// let mut pages = 0;
    /// let rows: Vec<_> = caller
    ///     .iter(|_: &String| true, || {
    ///         pages += 1;
    ///         let rows = if pages == 1 { vec![Ok(1), Err("timeout".to_string())] } else { vec![Ok(1), Ok(2)] };
    ///         rows.into_iter()
    ///     })
    ///     .collect();
    /// assert_eq!(rows, [Ok(1), Ok(1), Ok(2)]);
    /// ```
    pub fn iter<T, E, D, F, I, M>(
        &self,
        mut on: impl FnMut(&E) -> D,
        make: F,
    ) -> impl Iterator<Item = Result<T, E>>
    where
        V: ErrorView<E, M>,
        F: FnMut() -> I,
        I: Iterator<Item = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        let op_type = type_name::<F>();
        crate::stream::retry_iter(
            self.unstarted(),
            make,
            move |e: &E| on(e).into(),
            |_: &E| Cause::viewed::<V, M>(),
            move || self.label(op_type),
        )
    }
}
