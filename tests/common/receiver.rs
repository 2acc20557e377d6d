//! A webhook receiver on loopback that records every request (method, path, query, headers
//! and body) and answers `200 {"ok":true}` — or scripted answers first, or a chosen status —
//! optionally after a delay (so that a daemon can be killed while a delivery is in flight).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;

/// One request received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// A header value ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

/// A scripted answer: status, headers, body.
type Answer = (u16, Vec<(String, String)>, String);

#[derive(Default)]
struct ReceiverState {
    /// Answers to give, in order, before the standing one.
    script: VecDeque<Answer>,
    /// Answer every request with this status, when set.
    always: Option<u16>,
    /// Wait this long (up to) before answering; the request is recorded first.
    delay: Option<Duration>,
    got: Vec<Received>,
    /// `webhook-id`s of the requests received and not answered yet (a kill now interrupts
    /// their delivery).
    in_flight: Vec<String>,
}

/// The receiver.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
}

async fn receive(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (answer, delay, id) = {
        let mut state = state.lock().expect("lock");
        state.got.push(Received {
            method,
            path: uri.path().to_string(),
            query: uri.query().unwrap_or("").to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).to_string(),
                    )
                })
                .collect(),
            body: body.to_vec(),
        });
        let answer = state.script.pop_front().unwrap_or_else(|| {
            let status = state.always.unwrap_or(200);
            let body = if status < 300 {
                r#"{"ok":true}"#
            } else {
                r#"{"ok":false}"#
            };
            (status, Vec::new(), body.to_string())
        });
        let id = headers
            .get("webhook-id")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).to_string())
            .unwrap_or_default();
        state.in_flight.push(id.clone());
        (answer, state.delay, id)
    };
    // Dropped when the answer is sent or the client goes away (a killed daemon).
    let _answering = InFlight(state.clone(), id);
    if let Some(delay) = delay {
        tokio::time::sleep(delay.mul_f64(fastrand::f64())).await;
    }
    let (status, extra_headers, body) = answer;
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).expect("status");
    for (name, value) in extra_headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    response
}

/// Counts a request as in flight until dropped.
struct InFlight(Arc<Mutex<ReceiverState>>, String);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = state.in_flight.iter().position(|id| *id == self.1) {
            state.in_flight.remove(at);
        }
    }
}

impl Receiver {
    /// Starts on 127.0.0.1 with a free port, on the current runtime.
    pub async fn start() -> Receiver {
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let app = Router::new().fallback(receive).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, state }
    }

    /// Starts on a runtime thread of its own, for tests that drive the binary.
    pub fn start_in_background() -> Receiver {
        super::start_on_own_runtime(2, Receiver::start)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Gives this answer to the next `times` requests (before any standing answer).
    pub fn answer(&self, status: u16, headers: &[(&str, &str)], body: &str, times: usize) {
        let mut state = self.state.lock().expect("lock");
        for _ in 0..times {
            state.script.push_back((
                status,
                headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body.to_string(),
            ));
        }
    }

    /// Answers every request with `status` from now on (`None`: 200 again).
    pub fn always(&self, status: Option<u16>) {
        self.state.lock().expect("lock").always = status;
    }

    /// Waits a random time up to `delay` before each answer.
    pub fn delay(&self, delay: Option<Duration>) {
        self.state.lock().expect("lock").delay = delay;
    }

    /// The `webhook-id`s of the requests received and not answered yet.
    pub fn in_flight(&self) -> Vec<String> {
        self.state.lock().expect("lock").in_flight.clone()
    }

    /// Everything received so far.
    pub fn got(&self) -> Vec<Received> {
        self.state.lock().expect("lock").got.clone()
    }
}
