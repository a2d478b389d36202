//! What one bootstrap costs on the wire: HTTP round trips and TCP payload bytes, counted by a
//! small TCP proxy between the Ub client and our BSF. Run with `--nocapture` to see the figures.

mod gba_support;

use gba_support::*;
use simbridge::gba::{self, UbConfig, UreqTransport};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Counts bytes each way and connections; stops (and joins its threads) on drop.
struct CountingProxy {
    addr: SocketAddr,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    conns: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<Vec<JoinHandle<()>>>>,
}

fn pump(mut from: TcpStream, mut to: TcpStream, count: Arc<AtomicU64>) {
    let _ = from.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 4096];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                count.fetch_add(n as u64, Ordering::SeqCst);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

impl CountingProxy {
    fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let (up, down, conns, stop) = (
            Arc::default(),
            Arc::default(),
            Arc::<AtomicU64>::default(),
            Arc::<AtomicBool>::default(),
        );
        let (u, d, c, s) = (
            Arc::clone(&up),
            Arc::clone(&down),
            Arc::clone(&conns),
            Arc::clone(&stop),
        );
        let accept = std::thread::spawn(move || {
            let mut pumps = Vec::new();
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        c.fetch_add(1, Ordering::SeqCst);
                        let _ = client.set_nonblocking(false);
                        let server = TcpStream::connect(target).expect("connect to the BSF");
                        let (c2, s2) = (
                            client.try_clone().expect("clone"),
                            server.try_clone().expect("clone"),
                        );
                        let (u2, d2) = (Arc::clone(&u), Arc::clone(&d));
                        pumps.push(std::thread::spawn(move || pump(client, server, u2)));
                        pumps.push(std::thread::spawn(move || pump(s2, c2, d2)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            pumps
        });
        Self {
            addr,
            up,
            down,
            conns,
            stop,
            accept: Some(accept),
        }
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.accept.take() {
            for p in a.join().unwrap_or_default() {
                let _ = p.join();
            }
        }
    }
}

fn measure(card_text: &str, hss_sqn: &str) -> (u32, u32, u64, u64, u64) {
    let bsf = TestBsf::start(K, hss_sqn);
    let proxy = CountingProxy::start(bsf.addr());
    let mut card = soft_card(card_text);
    let out = {
        let mut t = UreqTransport::new(Duration::from_secs(10));
        let o = gba::bootstrap(
            &mut card,
            &mut t,
            &UbConfig::new(&format!("http://{}/", proxy.addr)),
            bsf.clock.now(),
        )
        .expect("bootstrap");
        drop(t); // closes the kept-alive connection so the pumps finish
        o
    };
    let (round_trips, resyncs) = (out.round_trips, out.resyncs);
    let addr_up = Arc::clone(&proxy.up);
    let addr_down = Arc::clone(&proxy.down);
    let conns = Arc::clone(&proxy.conns);
    drop(proxy);
    (
        round_trips,
        resyncs,
        addr_up.load(Ordering::SeqCst),
        addr_down.load(Ordering::SeqCst),
        conns.load(Ordering::SeqCst),
    )
}

#[test]
fn one_bootstrap_costs_two_round_trips() {
    let (rt, resyncs, up, down, conns) =
        measure(&profile_text(K, "000000000000", false), "000000000000");
    println!("GBA_ME bootstrap: {rt} HTTP round trips, {conns} TCP connection(s), {up} B up + {down} B down = {} B TCP payload", up + down);
    assert_eq!((rt, resyncs), (2, 0));
    assert_eq!(conns, 1, "both requests on one kept-alive connection");
    // Two requests with a Digest header each (~250-450 B), a 401 and a 200 with the XML body.
    assert!((400..=1200).contains(&up), "up {up}");
    assert!((500..=1500).contains(&down), "down {down}");

    let (rt, _, up_u, down_u, _) = measure(&profile_text(K, "000000000000", true), "000000000000");
    println!(
        "GBA_U bootstrap: {rt} HTTP round trips, {up_u} B up + {down_u} B down = {} B",
        up_u + down_u
    );
    assert_eq!(rt, 2);

    let (rt, resyncs, up_r, down_r, _) =
        measure(&profile_text(K, "000000200000", false), "000000000000");
    println!("GBA_ME bootstrap with one AUTS resync: {rt} round trips, {up_r} B up + {down_r} B down = {} B", up_r + down_r);
    assert_eq!((rt, resyncs), (3, 1));
    assert!(up_r > up && down_r > down);
}
