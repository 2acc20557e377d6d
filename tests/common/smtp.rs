//! A real, independent SMTP server for the email tests: aiosmtpd (PyPI) started on a free
//! loopback port, writing each accepted message into a Maildir. When python3 cannot import
//! aiosmtpd, it is installed once into `target/pydeps` with pip and found through PYTHONPATH,
//! so `cargo test` works on a fresh machine that has python3 and pip.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How the server talks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No TLS.
    Plain,
    /// STARTTLS required.
    Starttls,
    /// TLS from the first byte.
    Smtps,
}

/// Server options.
#[derive(Clone, Debug)]
pub struct Options {
    pub mode: Mode,
    /// Leaf certificate and key (PEM files) for the TLS modes.
    pub cert: Option<(PathBuf, PathBuf)>,
    /// `user:password` required by AUTH.
    pub auth: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            mode: Mode::Plain,
            cert: None,
            auth: None,
        }
    }
}

/// A running aiosmtpd.
pub struct SmtpServer {
    child: Option<Child>,
    pub port: u16,
    pub maildir: PathBuf,
    options: Options,
}

/// PYTHONPATH that makes `import aiosmtpd` work (installing it the first time).
fn python_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let target = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            // Its own directory: loadgen installs rss2email into `target/pydeps`, and an
            // install cannot be moved onto a directory that exists.
            .join("pydeps-smtp");
        let works = |pythonpath: &str| {
            Command::new("python3")
                .args(["-c", "import aiosmtpd"])
                .env("PYTHONPATH", pythonpath)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let ours = target.display().to_string();
        if works(&ours) {
            return ours;
        }
        // Install into a fresh directory and move it in place, so a half-finished install
        // is never picked up.
        let staging = target.with_extension(format!("tmp{}", std::process::id()));
        let status = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(&staging)
            .arg("aiosmtpd")
            .status()
            .expect("python3 is needed for the email tests (it runs aiosmtpd)");
        assert!(status.success(), "pip could not install aiosmtpd");
        if std::fs::rename(&staging, &target).is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        assert!(works(&ours), "aiosmtpd installed but cannot be imported");
        ours
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free loopback port")
}

impl SmtpServer {
    /// Starts a server on a free port.
    pub fn start(maildir: &Path, options: Options) -> SmtpServer {
        for _ in 0..5 {
            let mut server = SmtpServer {
                child: None,
                port: free_port(),
                maildir: maildir.to_path_buf(),
                options: options.clone(),
            };
            if server.spawn() {
                return server;
            }
        }
        panic!("aiosmtpd did not start");
    }

    /// Starts it again on the same port (after [`SmtpServer::stop`]).
    pub fn restart(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.spawn() {
            assert!(Instant::now() < deadline, "aiosmtpd did not restart");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn spawn(&mut self) -> bool {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/smtp_server.py");
        let mut command = Command::new("python3");
        command
            .arg(script)
            .args(["--port", &self.port.to_string()])
            .arg("--maildir")
            .arg(&self.maildir)
            .args([
                "--mode",
                match self.options.mode {
                    Mode::Plain => "plain",
                    Mode::Starttls => "starttls",
                    Mode::Smtps => "smtps",
                },
            ])
            .env("PYTHONPATH", python_path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some((cert, key)) = &self.options.cert {
            command.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if let Some(auth) = &self.options.auth {
            command.args(["--auth", auth]);
        }
        let mut child = command.spawn().expect("start python3");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.trim() == "READY" => {
                self.child = Some(child);
                true
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                false
            }
        }
    }

    /// Stops the server (messages already received stay in the Maildir).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The raw messages received so far, oldest first.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> =
            std::fs::read_dir(self.maildir.join("new"))
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .map(|e| {
                            let modified = e
                                .metadata()
                                .and_then(|m| m.modified())
                                .unwrap_or(std::time::UNIX_EPOCH);
                            (modified, e.path())
                        })
                        .collect()
                })
                .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| std::fs::read(path).ok())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A test CA and a leaf certificate for localhost/127.0.0.1 signed by it, written to `dir`:
/// returns (ca.pem, leaf.pem, leaf-key.pem). rustls refuses a self-signed certificate used
/// as its own CA, hence the two levels.
pub fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "newshound test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("leaf params");
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let leaf = leaf_params
        .signed_by(&leaf_key, &issuer)
        .expect("leaf cert");
    let (ca, cert, key) = (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf-key.pem"),
    );
    std::fs::write(&ca, ca_cert.pem()).expect("write CA");
    std::fs::write(&cert, leaf.pem()).expect("write leaf");
    std::fs::write(&key, leaf_key.serialize_pem()).expect("write key");
    (ca, cert, key)
}

/// Makes a file readable by its owner only (configs with inline secrets must be).
pub fn owner_only(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
}
