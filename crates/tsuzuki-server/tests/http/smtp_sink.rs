//! A real SMTP server for the mail tests: Python's aiosmtpd (PyPI) with its Maildir handler, on a
//! free loopback port, stopped on drop. Mail is read back from the Maildir and decoded like a mail
//! reader would (MIME, quoted-printable, base64, RFC 2047 headers).
//!
//! Where python3 or aiosmtpd is missing (`scripts/test` installs aiosmtpd), [`SmtpSink::start`]
//! prints a loud notice and returns `None` — unless `TSUZUKI_REQUIRE_TOOLS=1` (CI), which makes
//! it fail.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tsuzuki_store::testing::TempDir;

/// How long aiosmtpd may take to listen (Python's start-up on a busy 2-core machine).
const START_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

/// One mail as the server stored it, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope recipients (RCPT TO), as aiosmtpd recorded them.
    pub to: Vec<String>,
    /// The From header: `Name <address>`, or the address alone.
    pub from: String,
    pub subject: String,
    /// The text body, decoded, with CRLF line ends turned into LF.
    pub body: String,
}

pub struct SmtpSink {
    child: Child,
    port: u16,
    maildir: std::path::PathBuf,
    _dir: TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tools_required() -> bool {
    std::env::var("TSUZUKI_REQUIRE_TOOLS").is_ok_and(|v| v == "1" || v == "true")
}

fn skip(reason: &str) -> Option<SmtpSink> {
    if tools_required() {
        panic!("SMTP test server required (TSUZUKI_REQUIRE_TOOLS=1) but {reason}");
    }
    eprintln!(
        "\n!!! SKIPPING mail delivery test: {reason} (python3 -m pip install aiosmtpd, or run scripts/test)\n"
    );
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

impl SmtpSink {
    /// Start aiosmtpd on a free port and wait (at most 10 s) until it accepts connections.
    pub async fn start() -> Option<SmtpSink> {
        match Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Err(e) => return skip(&format!("python3 is not runnable ({e})")),
            Ok(s) if !s.success() => return skip("the Python module aiosmtpd is not installed"),
            Ok(_) => {}
        }
        // The port is free when chosen but could be taken before aiosmtpd binds it: try again.
        let mut last_error = String::new();
        for _ in 0..3 {
            match Self::try_start().await {
                Ok(sink) => return Some(sink),
                Err(e) => last_error = e,
            }
        }
        panic!("aiosmtpd did not start: {last_error}");
    }

    async fn try_start() -> Result<SmtpSink, String> {
        let dir = TempDir::new("smtp");
        let maildir = dir.0.join("maildir");
        let log = dir.0.join("aiosmtpd.log");
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("cannot run python3: {e}"))?;
        let mut sink = SmtpSink {
            child,
            port,
            maildir,
            _dir: dir,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = sink.child.try_wait() {
                let output = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("aiosmtpd exited ({status}): {output}"));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(sink);
            }
            if Instant::now() > deadline {
                let _ = sink.child.kill();
                return Err(format!(
                    "not listening on 127.0.0.1:{port} after {START_TIMEOUT:?}"
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every mail stored so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let modified = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                files.push((modified, entry.path()));
            }
        }
        files.sort();
        files
            .iter()
            .map(|(_, path)| {
                let raw = std::fs::read(path).expect("read a stored mail");
                parse(&raw).unwrap_or_else(|| panic!("{} is not a mail", path.display()))
            })
            .collect()
    }

    /// The stored mails once there are at least `n`; panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{} mail(s) after {timeout:?}, expected {n}",
                messages.len()
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

fn parse(raw: &[u8]) -> Option<ReceivedMail> {
    let mail = mail_parser::MessageParser::default().parse(raw)?;
    let from = mail.from().and_then(|a| a.first()).map(|a| {
        let address = a.address().unwrap_or_default();
        match a.name() {
            Some(name) => format!("{name} <{address}>"),
            None => address.to_string(),
        }
    })?;
    // aiosmtpd's Message handler records the envelope in X-RcptTo ("a@x, b@y").
    let to = mail
        .header_raw("X-RcptTo")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    Some(ReceivedMail {
        to,
        from,
        subject: mail.subject().unwrap_or_default().to_string(),
        body: mail.body_text(0)?.replace("\r\n", "\n"),
    })
}
