//! A throwaway `redis-server` for the tests of the Redis work queue: on a free loopback
//! port (or a unix socket), nothing saved to disk, killed on drop. Where redis-server is
//! not installed the test skips, as with the other tools (see [`crate::tools`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

use tempfile::TempDir;

use crate::tools::missing;

/// What redis-server logs once it accepts connections, lowercased: "Ready to accept
/// connections" on TCP, "The server is now ready to accept connections at PATH" on a
/// unix socket (Redis 7.0).
const READY: &str = "ready to accept connections";

/// A running redis-server of one test.
pub struct RedisServer {
    child: Child,
    listen: Listen,
    _dir: TempDir,
}

enum Listen {
    Tcp(u16),
    Unix(PathBuf),
}

impl RedisServer {
    /// A redis-server on a free port of 127.0.0.1, answering PING; `None` (after a note)
    /// where redis-server is not installed and `test` is to skip.
    pub fn start(test: &str) -> Option<RedisServer> {
        if !installed(test) {
            return None;
        }
        // Another process may take the free port between our look and redis-server's
        // bind; then it exits before it is ready, and we try another port.
        for _ in 0..5 {
            let port = free_port();
            if let Some(server) = spawn(Listen::Tcp(port)) {
                return Some(server);
            }
        }
        panic!("{test}: redis-server did not start on a free port in 5 tries");
    }

    /// A redis-server on a unix socket only (no TCP port).
    pub fn start_unix(test: &str) -> Option<RedisServer> {
        if !installed(test) {
            return None;
        }
        let dir = tempfile::tempdir().expect("a temp dir for the socket");
        let socket = dir.path().join("redis.sock");
        let server = spawn_in(dir, Listen::Unix(socket));
        Some(server.unwrap_or_else(|| panic!("{test}: redis-server did not start on a socket")))
    }

    /// Its URL: `redis://127.0.0.1:PORT` or `redis+unix:///PATH`.
    pub fn url(&self) -> String {
        match &self.listen {
            Listen::Tcp(port) => format!("redis://127.0.0.1:{port}"),
            Listen::Unix(path) => format!("redis+unix://{}", path.display()),
        }
    }

    /// Kills it at once (SIGKILL), as a crashed server or a lost network looks to a
    /// client, and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn installed(test: &str) -> bool {
    let runs = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !runs {
        missing(test, "redis-server", "Debian's redis-server");
    }
    runs
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("its address").port()
}

fn spawn(listen: Listen) -> Option<RedisServer> {
    spawn_in(
        tempfile::tempdir().expect("a temp dir for redis-server"),
        listen,
    )
}

/// Starts redis-server and waits for its ready line; `None` if it exits first.
fn spawn_in(dir: TempDir, listen: Listen) -> Option<RedisServer> {
    let mut cmd = Command::new("redis-server");
    cmd.args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .args(["--loglevel", "notice", "--logfile", ""])
        .arg("--dir")
        .arg(dir.path());
    match &listen {
        Listen::Tcp(port) => cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"]),
        Listen::Unix(path) => cmd
            .args(["--port", "0", "--unixsocketperm", "700", "--unixsocket"])
            .arg(path),
    };
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run redis-server");
    let stdout = child.stdout.take().expect("its stdout");
    if !wait_ready(stdout) {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    let server = RedisServer {
        child,
        listen,
        _dir: dir,
    };
    assert!(
        server.pings(),
        "redis-server is ready but does not answer PING"
    );
    Some(server)
}

/// Reads redis-server's log until it is ready (true) or exits (false), then keeps
/// reading it on a thread so that a full pipe never blocks the server.
fn wait_ready(stdout: ChildStdout) -> bool {
    let mut lines = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) if line.to_lowercase().contains(READY) => break,
            Ok(_) => {}
        }
    }
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut lines.into_inner(), &mut std::io::sink());
    });
    true
}

impl RedisServer {
    /// Whether it answers PING with PONG (inline command, RESP's simplest form).
    fn pings(&self) -> bool {
        fn ping(mut s: impl Read + Write) -> bool {
            let mut answer = [0u8; 7];
            s.write_all(b"PING\r\n").is_ok()
                && s.read_exact(&mut answer).is_ok()
                && &answer == b"+PONG\r\n"
        }
        match &self.listen {
            Listen::Tcp(port) => TcpStream::connect(("127.0.0.1", *port)).is_ok_and(ping),
            #[cfg(unix)]
            Listen::Unix(path) => std::os::unix::net::UnixStream::connect(path).is_ok_and(ping),
            #[cfg(not(unix))]
            Listen::Unix(_) => false,
        }
    }
}
