//! Client threads that write to a server until it stops answering — the load of the SIGTERM
//! and SIGKILL drills. Each thread gets its own blocking HTTP client and reports what the
//! server acknowledged to it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What a client thread sees: its own HTTP client, the stop flag, and a way to count an
/// acknowledgement.
pub struct ClientCtx {
    pub client: reqwest::blocking::Client,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
}

impl ClientCtx {
    /// True once [`Load::finish`] has been called.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Counts one acknowledged command (for [`Load::wait_for_acks`]).
    pub fn acked(&self) {
        self.acked.fetch_add(1, Ordering::SeqCst);
    }
}

/// `n` client threads, each running `client` until it returns.
pub struct Load<T> {
    acked: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<T>>,
}

impl<T: Send + 'static> Load<T> {
    /// Starts `n` threads; thread `i` runs `client(i, ctx)` and its result is kept.
    pub fn start<F>(n: usize, client: F) -> Load<T>
    where
        F: Fn(usize, ClientCtx) -> T + Send + Sync + 'static,
    {
        let acked = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let client = Arc::new(client);
        let threads = (0..n)
            .map(|i| {
                let ctx = ClientCtx {
                    client: reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(30))
                        .build()
                        .expect("http client"),
                    stop: Arc::clone(&stop),
                    acked: Arc::clone(&acked),
                };
                let client = Arc::clone(&client);
                std::thread::spawn(move || client(i, ctx))
            })
            .collect();
        Load {
            acked,
            stop,
            threads,
        }
    }

    /// Waits until the clients together counted `n` acknowledgements (at most 60 s).
    pub fn wait_for_acks(&self, n: usize) {
        let started = domain::clock::monotonic_now();
        while self.acked.load(Ordering::SeqCst) < n {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "clients did not get {n} answers"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Tells the clients to stop and answers what each returned.
    pub fn finish(self) -> Vec<T> {
        self.stop.store(true, Ordering::SeqCst);
        self.threads
            .into_iter()
            .map(|t| t.join().expect("client thread"))
            .collect()
    }
}
