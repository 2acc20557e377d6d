//! A loopback HTTP server that misbehaves on purpose, written on raw tokio TCP because a
//! well-behaved framework cannot: it sends gzip bombs, bodies that never end, one byte per
//! second, nothing at all, redirect loops, TLS with a self-signed certificate, plain text
//! where TLS is expected, and arbitrary bytes under any status and content type. It records
//! every connection: the path asked for, how many body bytes went out, and whether the
//! client hung up before the server was done (that is how a test sees that a cap or a
//! deadline really stopped the download).

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the server does for one path.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// A normal answer: status, content type, extra headers and body (with Content-Length).
    Answer {
        status: u16,
        content_type: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// `Content-Encoding: gzip` over these compressed bytes (see [`gzip_zeros`]).
    Gzip {
        content_type: String,
        gzipped: Arc<Vec<u8>>,
    },
    /// A chunked body of `chunk`-sized chunks that never ends.
    Endless { chunk: usize },
    /// Headers at once, then one byte of body every `every`, for ever.
    Trickle { every: Duration },
    /// Reads the request and never answers.
    Silent,
    /// `302 Found` to this location.
    Redirect(String),
    /// Closes the connection as soon as the request has arrived.
    Hangup,
}

impl Behaviour {
    /// `200 OK` with this body.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Behaviour::Answer {
            status: 200,
            content_type: content_type.to_string(),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// This status with an empty body.
    pub fn status(status: u16) -> Self {
        Behaviour::Answer {
            status,
            content_type: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

/// One connection the server handled.
#[derive(Clone, Debug)]
pub struct Hit {
    /// The request path ("" when no request line arrived).
    pub path: String,
    /// Body bytes written (for gzip: compressed bytes).
    pub body_bytes: u64,
    /// Whether the client closed the connection while the server still had more to send.
    pub client_hung_up: bool,
    /// How long the connection lasted.
    pub lasted: Duration,
}

#[derive(Default)]
struct State {
    behaviours: HashMap<String, Behaviour>,
    hits: Vec<Hit>,
    connections: usize,
}

/// TLS settings of a listener: serve this certificate chain and key (PEM).
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl TlsIdentity {
    /// A self-signed certificate for localhost and 127.0.0.1.
    pub fn self_signed() -> TlsIdentity {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .expect("self-signed certificate");
        TlsIdentity {
            cert_pem: certified.cert.pem(),
            key_pem: certified.signing_key.serialize_pem(),
        }
    }
}

/// The misbehaving server.
#[derive(Clone)]
pub struct HostileServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    tls: bool,
}

impl HostileServer {
    /// Listens on 127.0.0.1 with a free port.
    pub async fn start() -> HostileServer {
        Self::bind("127.0.0.1:0".parse().expect("address"), None).await
    }

    /// Listens on `addr` (e.g. `127.0.0.2:0` or `[::1]:port`), optionally speaking TLS.
    pub async fn bind(addr: SocketAddr, tls: Option<TlsIdentity>) -> HostileServer {
        let listener = TcpListener::bind(addr).await.expect("bind hostile server");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State::default()));
        let acceptor = tls.map(tls_acceptor);
        let server = HostileServer {
            addr,
            state: state.clone(),
            tls: acceptor.is_some(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                state.lock().expect("lock").connections += 1;
                let state = state.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        Some(acceptor) => {
                            // A client that refuses the certificate ends here.
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream, state).await;
                            }
                        }
                        None => serve(stream, state).await,
                    }
                });
            }
        });
        server
    }

    /// Starts the server on its own runtime thread, for tests that drive the binary.
    pub fn start_in_background() -> HostileServer {
        super::start_on_own_runtime(2, HostileServer::start)
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Sets what the server does for `path`.
    pub fn set(&self, path: &str, behaviour: Behaviour) {
        self.state
            .lock()
            .expect("lock")
            .behaviours
            .insert(path.to_string(), behaviour);
    }

    /// The connections that asked for `path`.
    pub fn hits(&self, path: &str) -> Vec<Hit> {
        self.state
            .lock()
            .expect("lock")
            .hits
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }

    /// Every TCP connection accepted, whether or not a request followed.
    pub fn connections(&self) -> usize {
        self.state.lock().expect("lock").connections
    }

    /// Waits until a connection for `path` has ended (the server records a hit when the
    /// exchange is over), up to `within`.
    pub async fn wait_for_hit(&self, path: &str, within: Duration) -> Option<Hit> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(hit) = self.hits(path).pop() {
                return Some(hit);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn tls_acceptor(identity: TlsIdentity) -> tokio_rustls::TlsAcceptor {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(identity.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes()).expect("key PEM");
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("TLS server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Reads one request head; returns the path.
async fn read_request<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 64 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
        if !head[0].is_ascii_uppercase() {
            // Not HTTP (a TLS ClientHello starts with 0x16): answer like a web server does.
            let _ = stream
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                )
                .await;
            return None;
        }
    }
    let line = head.split(|&b| b == b'\r').next()?;
    let line = String::from_utf8_lossy(line);
    let target = line.split_whitespace().nth(1)?;
    Some(target.split('?').next().unwrap_or(target).to_string())
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, state: Arc<Mutex<State>>) {
    let started = Instant::now();
    let Some(path) = read_request(&mut stream).await else {
        return;
    };
    let behaviour = state.lock().expect("lock").behaviours.get(&path).cloned();
    let behaviour = behaviour.unwrap_or(Behaviour::status(404));
    let (body_bytes, client_hung_up) = respond(&mut stream, behaviour).await;
    let _ = stream.shutdown().await;
    state.lock().expect("lock").hits.push(Hit {
        path,
        body_bytes,
        client_hung_up,
        lasted: started.elapsed(),
    });
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Whatever",
    }
}

/// Sends the answer; returns the body bytes written and whether the client hung up early.
async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    behaviour: Behaviour,
) -> (u64, bool) {
    let head = |status: u16, headers: &[(String, String)]| {
        let mut text = format!(
            "HTTP/1.1 {status} {}\r\nConnection: close\r\n",
            reason(status)
        );
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        text.into_bytes()
    };
    match behaviour {
        Behaviour::Answer {
            status,
            content_type,
            mut headers,
            body,
        } => {
            if !content_type.is_empty() {
                headers.push(("Content-Type".into(), content_type));
            }
            if status != 204 && status != 304 {
                headers.push(("Content-Length".into(), body.len().to_string()));
            }
            let mut bytes = head(status, &headers);
            bytes.extend_from_slice(&body);
            match stream.write_all(&bytes).await {
                Ok(()) => (body.len() as u64, false),
                Err(_) => (0, true),
            }
        }
        Behaviour::Gzip {
            content_type,
            gzipped,
        } => {
            let headers = vec![
                ("Content-Type".to_string(), content_type),
                ("Content-Encoding".to_string(), "gzip".to_string()),
                ("Content-Length".to_string(), gzipped.len().to_string()),
            ];
            if stream.write_all(&head(200, &headers)).await.is_err() {
                return (0, true);
            }
            let mut sent = 0u64;
            for piece in gzipped.chunks(16 * 1024) {
                if stream.write_all(piece).await.is_err() {
                    return (sent, true);
                }
                sent += piece.len() as u64;
            }
            (sent, false)
        }
        Behaviour::Endless { chunk } => {
            let headers = vec![
                (
                    "Content-Type".to_string(),
                    "application/rss+xml".to_string(),
                ),
                ("Transfer-Encoding".to_string(), "chunked".to_string()),
            ];
            if stream.write_all(&head(200, &headers)).await.is_err() {
                return (0, true);
            }
            let mut piece = format!("{chunk:x}\r\n").into_bytes();
            piece.extend(std::iter::repeat_n(b'<', chunk));
            piece.extend_from_slice(b"\r\n");
            let mut sent = 0u64;
            loop {
                if stream.write_all(&piece).await.is_err() || stream.flush().await.is_err() {
                    return (sent, true);
                }
                sent += chunk as u64;
            }
        }
        Behaviour::Trickle { every } => {
            let headers = vec![
                (
                    "Content-Type".to_string(),
                    "application/rss+xml".to_string(),
                ),
                ("Content-Length".to_string(), "100000".to_string()),
            ];
            if stream.write_all(&head(200, &headers)).await.is_err() {
                return (0, true);
            }
            let mut sent = 0u64;
            loop {
                if stream.write_all(b"<").await.is_err() || stream.flush().await.is_err() {
                    return (sent, true);
                }
                sent += 1;
                tokio::time::sleep(every).await;
            }
        }
        Behaviour::Silent => {
            // Hold the connection without a word until the client gives up (a read then
            // returns), for at most a minute.
            let mut buf = [0u8; 256];
            let wait = async {
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            };
            let gave_up = tokio::time::timeout(Duration::from_secs(60), wait).await;
            (0, gave_up.is_ok())
        }
        Behaviour::Redirect(location) => {
            let bytes = head(
                302,
                &[
                    ("Location".to_string(), location),
                    ("Content-Length".to_string(), "0".to_string()),
                ],
            );
            let _ = stream.write_all(&bytes).await;
            (0, false)
        }
        Behaviour::Hangup => (0, false),
    }
}

/// A gzip member holding `mib` MiB of zeros, built without compressing them all: one
/// MiB is deflated, then its byte-aligned second block (back-references into zeros only)
/// is repeated, and the CRC is combined arithmetically. 200 MiB cost about 200 KiB and a
/// fraction of a second.
pub fn gzip_zeros(mib: usize) -> Vec<u8> {
    use flate2::{Compression, Crc};
    assert!(mib >= 2, "at least two MiB");
    let zeros = vec![0u8; 1 << 20];
    // `flush` on a deflate writer is a sync flush: it ends the block on a byte boundary.
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(&zeros).expect("deflate");
    encoder.flush().expect("flush");
    let first_len = encoder.get_ref().len();
    encoder.write_all(&zeros).expect("deflate");
    encoder.flush().expect("flush");
    let second_len = encoder.get_ref().len();
    let stream = encoder.finish().expect("finish");
    let (first, rest) = stream.split_at(first_len);
    let (repeated, last) = rest.split_at(second_len - first_len);
    let mut crc_one = Crc::new();
    crc_one.update(&zeros);
    let mut crc = Crc::new();
    for _ in 0..mib {
        crc.combine(&crc_one);
    }
    let mut out = Vec::with_capacity(first.len() + repeated.len() * mib + 64);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
    out.extend_from_slice(first);
    for _ in 1..mib {
        out.extend_from_slice(repeated);
    }
    out.extend_from_slice(last);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&((mib as u64 * (1 << 20)) as u32).to_le_bytes());
    out
}
