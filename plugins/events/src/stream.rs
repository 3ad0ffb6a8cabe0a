//! The `/events` route: Server-Sent Events from the store, then live.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use node_api::http::{response, HttpRequest, HttpResponse};
use node_api::BoxError;
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use crate::store::{Since, Store, Stored};

/// Live events wait here for slow clients; a client further behind catches up from the
/// store (or is told of a gap) instead of slowing the node.
const LIVE_QUEUE: usize = 1024;

/// The store, the live feed, and the subscriber count.
pub(crate) struct Hub {
    store: Mutex<Store>,
    live: broadcast::Sender<Stored>,
    subscribers: AtomicUsize,
    max_subscribers: usize,
    keepalive: Duration,
    cancel: CancellationToken,
}

impl Hub {
    pub(crate) fn new(
        store: Store,
        max_subscribers: usize,
        keepalive: Duration,
        cancel: CancellationToken,
    ) -> Hub {
        Hub {
            store: Mutex::new(store),
            live: broadcast::channel(LIVE_QUEUE).0,
            subscribers: AtomicUsize::new(0),
            max_subscribers,
            keepalive,
            cancel,
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps an event and sends it to every connected client.
    /// Keeps and streams an event; `time_us` (microseconds since the Unix epoch, when the
    /// plugin received it) is added to its data, so a reader can tell when each node saw
    /// an object (the network lab's arrival times).
    pub(crate) fn record(&self, kind: &str, mut data: serde_json::Value) {
        if let Some(fields) = data.as_object_mut() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64);
            fields.insert("time_us".to_string(), serde_json::Value::from(now));
        }
        let mut store = self.store();
        match store.append(kind, &data.to_string()) {
            // Sent under the store's lock, so a client subscribing meanwhile sees each
            // event exactly once: in its backlog or live.
            Ok(stored) => {
                let _ = self.live.send(stored);
            }
            Err(e) => tracing::warn!(kind, "events: cannot keep an event: {e}"),
        }
    }

    /// `/events/status`: the window kept and the clients connected.
    pub(crate) fn status(&self) -> serde_json::Value {
        let store = self.store();
        let (oldest, kept, bytes) = store.window();
        json!({
            "newest": store.newest(),
            "oldest": oldest,
            "kept": kept,
            "bytes": bytes,
            "subscribers": self.subscribers.load(Ordering::Relaxed),
        })
    }
}

/// Counts a connected client for as long as its stream lives.
struct Subscriber(Arc<Hub>);

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.0.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

struct State {
    hub: Arc<Hub>,
    pending: VecDeque<Bytes>,
    last_sent: u64,
    live: broadcast::Receiver<Stored>,
    _subscriber: Subscriber,
}

fn gap_frame(after: u64, oldest: u64) -> Bytes {
    Bytes::from(format!(
        "event: gap\ndata: {}\n\n",
        json!({"after": after, "oldest": oldest})
    ))
}

impl State {
    /// Queues what the store holds after `last`; a gap first when some is gone.
    fn backlog(&mut self, last: u64, since: Since) {
        let events = match since {
            Since::Events(events) => events,
            Since::Gap { oldest, events } => {
                self.pending.push_back(gap_frame(last, oldest));
                events
            }
        };
        for event in events {
            self.last_sent = event.id;
            self.pending.push_back(event.frame);
        }
    }

    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return Some(frame);
            }
            tokio::select! {
                () = self.hub.cancel.cancelled() => return None,
                received = self.live.recv() => match received {
                    Ok(event) if event.id > self.last_sent => {
                        self.last_sent = event.id;
                        return Some(event.frame);
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        let since = self.hub.store().since(self.last_sent);
                        let last = self.last_sent;
                        self.backlog(last, since);
                    }
                    Err(RecvError::Closed) => return None,
                },
                // A comment line: keeps proxies from closing an idle stream and finds
                // clients that went away.
                () = tokio::time::sleep(self.hub.keepalive) => {
                    return Some(Bytes::from_static(b": keepalive\n\n"));
                }
            }
        }
    }
}

/// Where a client resumes: `Last-Event-ID` (what browsers send when they reconnect), or
/// `?last_event_id=N` for a first connection that wants the kept history.
fn resume_point(request: &HttpRequest) -> Result<Option<u64>, String> {
    if let Some(value) = request.headers().get("last-event-id") {
        let text = value.to_str().unwrap_or_default().trim();
        if text.is_empty() {
            return Ok(None);
        }
        return text
            .parse()
            .map(Some)
            .map_err(|_| format!("Last-Event-ID {text:?} is not an event id"));
    }
    let query = request.uri().query().unwrap_or_default();
    for pair in query.split('&') {
        if let Some(value) = pair.strip_prefix("last_event_id=") {
            return value
                .parse()
                .map(Some)
                .map_err(|_| format!("last_event_id {value:?} is not an event id"));
        }
    }
    Ok(None)
}

/// Answers `/events`.
pub(crate) fn serve(hub: &Arc<Hub>, request: &HttpRequest) -> HttpResponse {
    let last = match resume_point(request) {
        Ok(last) => last,
        Err(e) => return response(StatusCode::BAD_REQUEST, "text/plain", e + "\n"),
    };
    if hub.subscribers.fetch_add(1, Ordering::Relaxed) >= hub.max_subscribers {
        hub.subscribers.fetch_sub(1, Ordering::Relaxed);
        return response(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "too many event stream clients\n",
        );
    }
    let subscriber = Subscriber(hub.clone());
    let mut state = {
        // Subscribed under the store's lock: nothing falls between backlog and live.
        let store = hub.store();
        let live = hub.live.subscribe();
        let mut state = State {
            hub: hub.clone(),
            pending: VecDeque::new(),
            last_sent: store.newest(),
            live,
            _subscriber: subscriber,
        };
        if let Some(last) = last {
            state.last_sent = last;
            let since = store.since(last);
            state.backlog(last, since);
        }
        state
    };
    // Tells the client how long to wait before reconnecting.
    state
        .pending
        .push_front(Bytes::from_static(b"retry: 2000\n\n"));
    let frames = stream::unfold(state, |mut state| async move {
        let frame = state.next().await?;
        Some((Ok::<_, BoxError>(Frame::data(frame)), state))
    });
    let mut response = Response::new(StreamBody::new(frames).boxed());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
