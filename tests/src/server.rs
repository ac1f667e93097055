//! A real Daftar HTTP server for end-to-end tests: the production app (`build_app`) served by
//! actix on a loopback port, on a test database, with the sync LISTEN thread — stoppable and
//! restartable on the same port to play "the internet went away".

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread::JoinHandle;

use daftar_server::app::{build_app, AppState};
use daftar_server::config::AuthConfig;
use daftar_server::db::{build_pool, Db};
use daftar_server::sync::events::{Listener, Pokes};

/// A running (or stopped) server.
pub struct TestServer {
    port: u16,
    state: AppState,
    running: Option<(actix_web::dev::ServerHandle, JoinHandle<()>)>,
    /// The sync LISTEN thread; it outlives stop/resume and ends when the server is dropped
    /// (before the test's database is).
    listener: Option<Listener>,
}

impl TestServer {
    /// Starts the app on a free loopback port over `database_url` (pool of 8, the default
    /// push limit of 2).
    ///
    /// Panics when the port cannot be bound (tests only).
    pub fn start(database_url: &str) -> TestServer {
        Self::start_with_push_limit(database_url, Db::default_push_limit(8))
    }

    /// [`TestServer::start`] with at most `push_limit` concurrent sync pushes.
    pub fn start_with_push_limit(database_url: &str, push_limit: u32) -> TestServer {
        let pool = build_pool(database_url, 8).expect("pool");
        let pokes = Pokes::default();
        let listener = pokes.listen(database_url.to_string());
        let state = AppState {
            db: Db::with_push_limit(pool, push_limit),
            auth: AuthConfig::new(b"e2e-secret-e2e-secret-e2e-secret-!!".to_vec()),
            pokes,
            invoice_runs: Default::default(),
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut s = TestServer {
            port,
            state,
            running: None,
            listener: Some(listener),
        };
        s.resume();
        s
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's state (its pool, for direct SQL checks).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops serving at once (open connections, SSE streams included, are dropped): clients
    /// now see "connection refused", as when the cable is pulled.
    pub fn stop(&mut self) {
        if let Some((handle, thread)) = self.running.take() {
            actix_web::rt::System::new().block_on(handle.stop(false));
            let _ = thread.join();
        }
    }

    /// Serves again on the same port.
    pub fn resume(&mut self) {
        if self.running.is_some() {
            return;
        }
        let (tx, rx) = mpsc::channel();
        let state = self.state.clone();
        let port = self.port;
        let thread = std::thread::spawn(move || {
            let sys = actix_web::rt::System::new();
            sys.block_on(async move {
                let server = actix_web::HttpServer::new(move || build_app(state.clone()))
                    .workers(2)
                    .disable_signals()
                    .shutdown_timeout(0)
                    .bind(("127.0.0.1", port))
                    .expect("bind")
                    .run();
                let _ = tx.send(server.handle());
                let _ = server.await;
            });
        });
        let handle = rx.recv().expect("server started");
        self.running = Some((handle, thread));
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
        self.listener.take();
    }
}
