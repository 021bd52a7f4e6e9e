//! A small real HTTP server standing in for a web server of the site: it
//! answers 200, answers 500, hangs, or is stopped (its listener closed, so
//! connections are refused) and started again on the same port.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Web {
    /// 200 "ok".
    Ok,
    /// 500.
    Status500,
    /// Reads the request and never answers.
    Hang,
    /// Listener closed: connections are refused.
    Stopped,
}

struct Listening {
    socket: Arc<TcpListener>,
    closing: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// One web server on a loopback address, stopped on drop.
pub struct WebBackend {
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
    listening: Mutex<Option<Listening>>,
}

impl WebBackend {
    /// Starts answering 200 on `ip` (a loopback address), any free port.
    pub fn start(ip: Ipv4Addr) -> WebBackend {
        assert!(ip.is_loopback(), "only loopback addresses may be used");
        let socket = TcpListener::bind((ip, 0)).expect("bind web backend");
        let b = WebBackend {
            addr: socket.local_addr().unwrap(),
            mode: Arc::new(AtomicU8::new(Web::Ok as u8)),
            listening: Mutex::new(None),
        };
        *b.listening.lock().unwrap() = Some(b.listen(socket));
        b
    }

    /// The URL a `[[check]]` probes.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Switches behaviour: `Stopped` closes the listener (refused from the
    /// moment this returns); any other mode listens again on the same port.
    pub fn set(&self, mode: Web) {
        self.mode.store(mode as u8, Ordering::SeqCst);
        let mut l = self.listening.lock().unwrap();
        match (mode, l.is_some()) {
            (Web::Stopped, true) => close(l.take().unwrap()),
            (Web::Stopped, false) | (_, true) => {}
            (_, false) => {
                let socket = TcpListener::bind(self.addr).expect("listen again on the same port");
                *l = Some(self.listen(socket));
            }
        }
    }

    fn listen(&self, socket: TcpListener) -> Listening {
        let socket = Arc::new(socket);
        let closing = Arc::new(AtomicBool::new(false));
        let (s, c, mode) = (socket.clone(), closing.clone(), self.mode.clone());
        let thread = std::thread::spawn(move || loop {
            match s.accept() {
                Ok((conn, _)) => {
                    let mode = mode.clone();
                    std::thread::spawn(move || serve(conn, &mode));
                }
                Err(_) if c.load(Ordering::SeqCst) => return,
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        });
        Listening {
            socket,
            closing,
            thread,
        }
    }
}

impl Drop for WebBackend {
    fn drop(&mut self) {
        if let Some(l) = self.listening.lock().unwrap().take() {
            close(l);
        }
    }
}

fn close(l: Listening) {
    l.closing.store(true, Ordering::SeqCst);
    // Wakes the blocked accept() and refuses every new connection.
    let _ = socket2::SockRef::from(&*l.socket).shutdown(std::net::Shutdown::Both);
    let _ = l.thread.join();
}

/// One request per connection, answered as the mode says.
fn serve(mut s: TcpStream, mode: &AtomicU8) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk) {
            Ok(n) if n > 0 && buf.len() < 16 * 1024 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
    let status = match mode.load(Ordering::SeqCst) {
        m if m == Web::Hang as u8 => {
            // Hold the connection until the prober gives up.
            while matches!(s.read(&mut chunk), Ok(n) if n > 0) {}
            return;
        }
        m if m == Web::Status500 as u8 => "500 Internal Server Error",
        _ => "200 OK",
    };
    let _ = s.write_all(
        format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").as_bytes(),
    );
}
