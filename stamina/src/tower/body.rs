//! [`ReplayBody`]: a request body that a retry can send again, without `Clone`.
//!
//! Linkerd's model (linkerd2-proxy PRs #1017, #1020, #1039, #1043): the first attempt streams
//! the original body and keeps each chunk it sends, a refcounted `Bytes` (no copy), up to a cap;
//! a later attempt plays those chunks back, then goes on from the original where the first one
//! stopped (a server that answered before reading the whole body). Past the cap the chunks are
//! let go, the attempt under way completes from the original, and the request is not retried:
//! never an error of its own. A body whose length is known to exceed the cap is not buffered at
//! all.
//!
//! Only the newest attempt reads the original: an older one that its client is still sending
//! (an attempt cut by its per-try timeout) ends with [`Superseded`] rather than as if its body
//! were complete, so that no server takes a truncated body for a whole one.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

/// The error of a [`ReplayBody`]: the original body's, boxed, as hyper and tonic take a body's
/// error, or [`Superseded`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error an attempt's body ends with when a later attempt has begun while it was still being
/// sent (an attempt cut by its per-try timeout, or answered before its body was read): that
/// attempt is over, and its body must not end as if complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Superseded;

impl std::fmt::Display for Superseded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body was taken over by a retry of the request")
    }
}

impl std::error::Error for Superseded {}

/// The default cap on what a request's body may buffer for a retry: 64 KiB, Linkerd's.
pub const DEFAULT_BODY_CAP: usize = 64 * 1024;

pin_project_lite::pin_project! {
/// A request body as the service behind a [`RetryLayer`](super::RetryLayer) sees it: the
/// original body, or its replay. It has the original's frames, its data as [`Bytes`], its
/// errors boxed.
///
/// A client behind the layer takes this body type: hyper-util's
/// `Client<HttpConnector, ReplayBody<Full<Bytes>>>`, say; for a service that takes a body type of
/// its own (tonic's channel), the layer converts ([`RetryLayer::map_body`](super::RetryLayer::map_body)).
pub struct ReplayBody<B> {
    #[pin]
    kind: Kind<B>,
}
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        /// Not retried (no buffer): the original, as it is, in place.
        Once { #[pin] body: B },
        /// Shared by the attempts: `generation` is this attempt's (only the newest may read the
        /// original), `next` its place in the buffered chunks.
        Replay {
            shared: Arc<Mutex<Buffer<B>>>,
            generation: u32,
            next: usize,
            trailers_sent: bool,
            done: bool,
        },
        /// Nothing (an attempt whose body was taken, or an empty one).
        Empty,
    }
}

/// What the attempts of one request share.
pub(super) struct Buffer<B> {
    /// The original, from where the attempts got to; `None` once it has ended.
    rest: Option<Pin<Box<B>>>,
    /// The chunks read from the original so far, in order.
    chunks: Vec<Bytes>,
    /// Their bytes.
    len: usize,
    cap: usize,
    /// The original's trailers, once read.
    trailers: Option<HeaderMap>,
    /// The buffer outgrew its cap (or the original failed): no replay.
    spent: bool,
    /// The newest attempt's generation, from 1.
    generation: u32,
}

impl<B> std::fmt::Debug for ReplayBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Once { .. } => "once",
            Kind::Replay { .. } => "replay",
            Kind::Empty => "empty",
        };
        f.debug_struct("ReplayBody").field("kind", &kind).finish()
    }
}

/// The handle the retry keeps to make each attempt's body.
pub(super) enum Replay<B> {
    Shared(Arc<Mutex<Buffer<B>>>),
    /// Sent once: the body, until the first attempt takes it.
    Once(Option<B>),
    Empty,
}

impl<B: Body> Replay<B> {
    /// The replay of `body`, buffered up to `cap` bytes: sent once if its length is known to be
    /// more, or if the call makes one attempt only; nothing to buffer if it is known to be empty.
    #[inline]
    pub(super) fn new(body: B, cap: usize, retries: bool) -> Self {
        let hint = body.size_hint();
        if hint.exact() == Some(0) || body.is_end_stream() {
            return Replay::Empty;
        }
        if !retries || hint.lower() > cap as u64 {
            return Replay::Once(Some(body));
        }
        Replay::Shared(Arc::new(Mutex::new(Buffer {
            rest: Some(Box::pin(body)),
            chunks: Vec::new(),
            len: 0,
            cap,
            trailers: None,
            spent: false,
            generation: 0,
        })))
    }

    /// The body of the next attempt, from the start. The attempts before it can no longer read
    /// the original: one that is still being sent ends with [`Superseded`].
    #[inline]
    pub(super) fn attempt(&mut self) -> ReplayBody<B> {
        let kind = match self {
            Replay::Shared(shared) => {
                let generation = {
                    let mut shared = lock(shared);
                    shared.generation += 1;
                    shared.generation
                };
                Kind::Replay {
                    shared: Arc::clone(shared),
                    generation,
                    next: 0,
                    trailers_sent: false,
                    done: false,
                }
            }
            Replay::Once(body) => body.take().map_or(Kind::Empty, |body| Kind::Once { body }),
            Replay::Empty => Kind::Empty,
        };
        ReplayBody { kind }
    }

    /// Whether another attempt can send the body again.
    #[inline]
    pub(super) fn replayable(&self) -> bool {
        match self {
            Replay::Shared(shared) => !lock(shared).spent,
            Replay::Once(body) => body.is_some(),
            Replay::Empty => true,
        }
    }
}

fn lock<B>(shared: &Mutex<Buffer<B>>) -> std::sync::MutexGuard<'_, Buffer<B>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A frame of the original, its data as `Bytes` (no copy for a body of `Bytes`).
fn to_bytes<D: Buf>(frame: Frame<D>) -> Frame<Bytes> {
    frame.map_data(|mut d| d.copy_to_bytes(d.remaining()))
}

impl<B> Body for ReplayBody<B>
where
    B: Body,
    B::Data: Buf,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let (shared, generation, next, trailers_sent, done) = match self.project().kind.project() {
            KindProj::Empty => return Poll::Ready(None),
            KindProj::Once { body } => {
                return body
                    .poll_frame(cx)
                    .map(|frame| frame.map(|frame| frame.map(to_bytes).map_err(Into::into)));
            }
            KindProj::Replay {
                shared,
                generation,
                next,
                trailers_sent,
                done,
            } => (&*shared, *generation, next, trailers_sent, done),
        };
        if *done {
            return Poll::Ready(None);
        }
        let mut shared = lock(shared);
        if shared.generation != generation {
            *done = true;
            return Poll::Ready(Some(Err(Superseded.into())));
        }
        // The chunks an earlier attempt sent, again. (Only the newest attempt reads the
        // original, so a buffer spent since this attempt began was spent by this attempt, past
        // the chunks it replayed.)
        if let Some(chunk) = shared.chunks.get(*next).cloned() {
            *next += 1;
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        let Some(rest) = shared.rest.as_mut() else {
            // The original has ended: its trailers, once, then the end.
            *done = true;
            if !*trailers_sent {
                *trailers_sent = true;
                if let Some(trailers) = shared.trailers.clone() {
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                }
            }
            return Poll::Ready(None);
        };
        let frame = match rest.as_mut().poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                shared.rest = None;
                *done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(Err(e))) => {
                // A body that failed is not sent again.
                shared.rest = None;
                shared.spent = true;
                shared.chunks = Vec::new();
                *done = true;
                return Poll::Ready(Some(Err(e.into())));
            }
            Poll::Ready(Some(Ok(frame))) => to_bytes(frame),
        };
        let frame = match frame.into_data() {
            Ok(chunk) => {
                if !shared.spent {
                    if shared.len + chunk.len() > shared.cap {
                        // Past the cap: let the chunks go; this attempt goes on.
                        shared.spent = true;
                        shared.chunks = Vec::new();
                    } else {
                        shared.len += chunk.len();
                        shared.chunks.push(chunk.clone());
                        *next = shared.chunks.len();
                    }
                }
                Frame::data(chunk)
            }
            Err(frame) => {
                if let Some(trailers) = frame.trailers_ref() {
                    shared.trailers = Some(trailers.clone());
                    *trailers_sent = true;
                }
                frame
            }
        };
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Once { body } => body.is_end_stream(),
            Kind::Replay { done, .. } => *done,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Once { body } => body.size_hint(),
            Kind::Replay {
                shared, next, done, ..
            } => {
                if *done {
                    return SizeHint::with_exact(0);
                }
                let shared = lock(shared);
                let replayed: u64 = shared
                    .chunks
                    .iter()
                    .skip(*next)
                    .map(|c| c.len() as u64)
                    .sum();
                let rest = shared
                    .rest
                    .as_ref()
                    .map_or(SizeHint::with_exact(0), |rest| Body::size_hint(&**rest));
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower() + replayed);
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper + replayed);
                }
                hint
            }
        }
    }
}
