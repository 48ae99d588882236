//! Harness of the black-box tests: starts the real `marketlog serve` on a free port with a
//! data dir and the simulated clock, waits for its `listening on http://ADDR` line, and offers
//! a blocking HTTP client, graceful stop (SIGTERM, exit 0 asserted) and `kill -9`.
//!
//! The binaries are looked up next to the test executable's directory
//! (`target/<profile>/deps/..`), where cargo puts them when it builds the `api` package's
//! integration tests (`marketlog`) or the `replay-tool` package (`replay-tool`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

/// Platform admin token the harness starts servers with.
pub const ADMIN_TOKEN: &str = "blackbox-admin-token-0123456789";
/// Start of the simulated clock.
pub const SIMULATED_START: &str = "2026-11-22T09:00:00+08:00";
/// Longest wait for the `listening on` line (the contract says < 1 s; CI machines are slow).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest wait for the process to exit after a signal.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(20);
/// Per-request timeout of the blocking client.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const LISTENING_PREFIX: &str = "listening on http://";

/// `<dir of the test executable>/../<name>`: where cargo puts the workspace's binaries.
pub fn binary_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test executable has a directory");
    deps.parent().unwrap_or(deps).join(name)
}

/// The `marketlog` binary; panics with a clear message when it has not been built.
pub fn marketlog_binary() -> PathBuf {
    let path = binary_path("marketlog");
    assert!(
        path.is_file(),
        "the marketlog binary is missing at {}: build it first, e.g. \
         `cargo test -p api -p marketlog-tests --release` or `cargo build --release -p api`",
        path.display()
    );
    path
}

/// The `replay-tool` binary if it has been built (`cargo build -p replay-tool`, or any
/// `cargo test --workspace`).
pub fn replay_tool_binary() -> Option<PathBuf> {
    let path = binary_path("replay-tool");
    path.is_file().then_some(path)
}

/// What [`Server::market`] set up: the tokens of its seller admin and customer, and the
/// product id.
#[derive(Debug, Clone)]
pub struct Market {
    pub seller: String,
    pub customer: String,
    pub product: String,
}

/// Runs `replay-tool <args> --data <data> --no-progress` offline: its exit code and what it
/// printed (stdout then stderr); None when the tool has not been built.
pub fn run_replay_tool(args: &[&str], data: &Path) -> Option<(i32, String)> {
    let out = Command::new(replay_tool_binary()?)
        .args(args)
        .arg("--data")
        .arg(data)
        .arg("--no-progress")
        .env_remove("MARKETLOG_DATA")
        .output()
        .expect("run replay-tool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.code().unwrap_or(-1), text))
}

/// How a process ended when it was not (or no longer) serving.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Options of one `marketlog serve`.
#[derive(Debug, Clone)]
pub struct Launch {
    pub data: PathBuf,
    /// `MARKETLOG_ADMIN_TOKEN`; `None` leaves it unset.
    pub admin_token: Option<String>,
    /// `--simulated-clock START`; `None` runs on the real clock.
    pub simulated_clock: Option<String>,
    /// More `MARKETLOG_<NAME>` options (e.g. timeouts), set on the process.
    pub env: Vec<(String, String)>,
    /// A program that runs the server (e.g. `prlimit --fsize=N --`), which must exec it.
    pub wrapper: Vec<String>,
}

impl Launch {
    /// The defaults: [`ADMIN_TOKEN`], simulated clock at [`SIMULATED_START`].
    pub fn new(data: &Path) -> Launch {
        Launch {
            data: data.to_path_buf(),
            admin_token: Some(ADMIN_TOKEN.to_owned()),
            simulated_clock: Some(SIMULATED_START.to_owned()),
            env: Vec::new(),
            wrapper: Vec::new(),
        }
    }

    /// Runs the server under `program args… <marketlog>`; the program must exec it, so the
    /// pid is the server's.
    pub fn wrapped_in(mut self, program: &[&str]) -> Launch {
        self.wrapper = program.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    /// Sets an option through its environment variable, e.g. `MARKETLOG_SHUTDOWN_DEADLINE_MS`.
    pub fn with_env(mut self, name: &str, value: &str) -> Launch {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn without_admin_token(mut self) -> Launch {
        self.admin_token = None;
        self
    }

    /// Starts the server and waits until it listens; panics if it does not.
    pub fn start(&self) -> Server {
        match self.spawn() {
            Ok(s) => s,
            Err(e) => panic!(
                "marketlog serve exited before listening: {}\nstdout:\n{}\nstderr:\n{}",
                e.status, e.stdout, e.stderr
            ),
        }
    }

    /// Starts the server; `Err` with its exit status and output if it exits before listening.
    pub fn spawn(&self) -> Result<Server, Exited> {
        let mut cmd = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(marketlog_binary());
                cmd
            }
            None => Command::new(marketlog_binary()),
        };
        cmd.arg("serve")
            .arg("--data")
            .arg(&self.data)
            .arg("--listen")
            .arg("127.0.0.1:0");
        if let Some(start) = &self.simulated_clock {
            cmd.arg("--simulated-clock").arg(start);
        }
        // Only what this launch asks for: no option from the caller's environment.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("MARKETLOG_") {
                cmd.env_remove(&key);
            }
        }
        if let Some(t) = &self.admin_token {
            cmd.env("MARKETLOG_ADMIN_TOKEN", t);
        }
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawning marketlog");
        let stdout_text = Arc::new(Mutex::new(String::new()));
        let stderr_text = Arc::new(Mutex::new(String::new()));
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("piped stdout");
        let out_buf = Arc::clone(&stdout_text);
        let stdout_thread = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lock(&out_buf).push_str(&line);
                lock(&out_buf).push('\n');
                let _ = lines_tx.send(line);
            }
        });
        let mut stderr = child.stderr.take().expect("piped stderr");
        let err_buf = Arc::clone(&stderr_text);
        let stderr_thread = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                match stderr.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => lock(&err_buf).push_str(&String::from_utf8_lossy(&chunk[..n])),
                }
            }
        });
        let mut server = Server {
            child: Some(child),
            addr: String::new(),
            base: String::new(),
            stdout: stdout_text,
            stderr: stderr_text,
            threads: vec![stdout_thread, stderr_thread],
            client: reqwest::blocking::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("http client"),
            launch: self.clone(),
        };
        let started = domain::clock::monotonic_now();
        loop {
            let left = STARTUP_TIMEOUT.saturating_sub(started.elapsed());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = line.trim().strip_prefix(LISTENING_PREFIX) {
                        server.addr = addr.to_owned();
                        server.base = format!("http://{addr}");
                        return Ok(server);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stdout closed: the process is ending.
                    let status = server.wait_exit(EXIT_TIMEOUT);
                    return Err(Exited {
                        status,
                        stdout: server.stdout(),
                        stderr: server.stderr(),
                    });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "marketlog did not print `{LISTENING_PREFIX}…` within {STARTUP_TIMEOUT:?}\nstderr:\n{}",
                    server.stderr()
                ),
            }
        }
    }
}

fn lock(m: &Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An answer of the server.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts the status; returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }

    /// Asserts an error answer (API.md §1 shape) with this status and code; returns details.
    #[track_caller]
    pub fn error(&self, status: u16, code: &str) -> Value {
        let v = self.expect(status);
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(v["error"]["message"].is_string(), "{v}");
        assert!(v["error"]["details"].is_object(), "{v}");
        v["error"]["details"].clone()
    }
}

/// A running `marketlog serve`. Dropping it kills the process.
pub struct Server {
    child: Option<Child>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    threads: Vec<JoinHandle<()>>,
    client: reqwest::blocking::Client,
    launch: Launch,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("base", &self.base).finish()
    }
}

impl Server {
    /// Starts a server on `data` with the defaults of [`Launch::new`].
    pub fn start(data: &Path) -> Server {
        Launch::new(data).start()
    }

    /// The launch options (to restart on the same data dir).
    pub fn launch(&self) -> &Launch {
        &self.launch
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A blocking client (30 s timeout); use it from plain threads only.
    pub fn client(&self) -> &reqwest::blocking::Client {
        &self.client
    }

    /// Everything the process printed on stdout so far.
    pub fn stdout(&self) -> String {
        lock(&self.stdout).clone()
    }

    /// Everything the process printed on stderr so far.
    pub fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }

    /// Sends a request; `token` adds `Authorization: Bearer`, `body` is sent as JSON.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        self.try_send(method, path, token, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Like [`Server::send`], but a transport error (refused, reset) is returned.
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, reqwest::Error> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send()?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes()?.to_vec();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// `GET path` as the admin.
    pub fn get(&self, path: &str) -> Reply {
        self.send("GET", path, Some(ADMIN_TOKEN), &[], None)
    }

    /// `POST path` with a JSON body as the admin.
    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, Some(ADMIN_TOKEN), &[], Some(body))
    }

    /// A new principal (`body` as for `POST /v1/principals`) created by the admin: its token.
    pub fn token(&self, body: &Value) -> String {
        self.post("/v1/principals", body).expect(201)["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// A seller org "Acme Cloud" with an admin, a listed SaaS product `VM` with one monthly
    /// spec `m` at 50 yuan, and a customer.
    pub fn market(&self) -> Market {
        let org = self
            .post("/v1/orgs", &serde_json::json!({"name": "Acme Cloud"}))
            .expect(201)["id"]
            .as_str()
            .expect("org id")
            .to_owned();
        let seller =
            self.token(&serde_json::json!({"role": "isv_admin", "name": "Ann", "org_id": org}));
        let customer = self.token(&serde_json::json!({"role": "customer", "name": "Bo"}));
        let product = self
            .send("POST", "/v1/products", Some(&seller), &[], Some(&serde_json::json!({
                "code": "VM", "name": "Cloud VM", "category": "compute", "delivery": "saas",
                "delivery_days": 0, "warranty_days": 0,
                "specs": [{"id": "m", "name": "monthly", "duration": 1, "unit": "month", "price_cents": 5000}]
            })))
            .expect(201)["id"]
            .as_str()
            .expect("product id")
            .to_owned();
        self.send(
            "POST",
            &format!("/v1/products/{product}/submit"),
            Some(&seller),
            &[],
            None,
        )
        .expect(200);
        self.post(
            &format!("/v1/products/{product}/approve"),
            &serde_json::json!({}),
        )
        .expect(200);
        Market {
            seller,
            customer,
            product,
        }
    }

    /// Every event of the log (following `next_cursor`), `query` added to each page request.
    pub fn all_events(&self, token: &str, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/events?limit=500{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.send("GET", &path, Some(token), &[], None).expect(200);
            out.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }

    /// `log_position` of `/v1/health`.
    pub fn head(&self) -> u64 {
        self.send("GET", "/v1/health", None, &[], None).expect(200)["log_position"]
            .as_u64()
            .expect("log_position")
    }

    /// Sends SIGTERM without waiting.
    pub fn terminate(&self) {
        let pid = self.pid().to_string();
        // `kill(2)` through the kill command: the workspace forbids unsafe code.
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM {pid} failed");
    }

    /// Waits (≤ 5 s) until the process catches SIGTERM, read from `/proc/<pid>/status`
    /// (`SigCgt`); returns at once where there is no `/proc`. The server installs its handler
    /// lazily, shortly after printing `listening on`: see the ignored test
    /// `sigterm_right_after_the_listening_line_exits_0`.
    pub fn wait_for_sigterm_handler(&self) {
        const SIGTERM_BIT: u64 = 1 << (15 - 1);
        let path = format!("/proc/{}/status", self.pid());
        let started = domain::clock::monotonic_now();
        while started.elapsed() < Duration::from_secs(5) {
            let Ok(status) = std::fs::read_to_string(&path) else {
                return;
            };
            let caught = status
                .lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok());
            match caught {
                None => return,
                Some(mask) if mask & SIGTERM_BIT != 0 => return,
                Some(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        panic!("marketlog never installed a SIGTERM handler");
    }

    /// Graceful stop: SIGTERM (once the server catches it), wait, assert exit status 0.
    /// Returns stderr.
    pub fn stop(mut self) -> String {
        self.wait_for_sigterm_handler();
        self.terminate();
        let status = self.wait_exit(EXIT_TIMEOUT);
        let stderr = self.stderr();
        assert!(
            status.success(),
            "marketlog did not exit 0 after SIGTERM: {status}\nstderr:\n{stderr}"
        );
        stderr
    }

    /// Waits for the process after SIGTERM and returns its status (no assertion).
    pub fn wait_after_terminate(mut self) -> (ExitStatus, String) {
        let status = self.wait_exit(EXIT_TIMEOUT);
        (status, self.stderr())
    }

    /// SIGKILL, then wait.
    pub fn kill9(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.join_threads();
    }

    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("process already reaped");
        let started = domain::clock::monotonic_now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if started.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "marketlog did not exit within {timeout:?}\nstderr:\n{}",
                    self.stderr()
                );
            }
            // Polling a process for its exit, not waiting for business time.
            std::thread::sleep(Duration::from_millis(10));
        };
        self.join_threads();
        status
    }

    fn join_threads(&mut self) {
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
