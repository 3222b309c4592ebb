//! A real DNS server on loopback for the domain-verification tests: UDP on 127.0.0.1 with a free
//! port, answering TXT queries from a table the test edits while it runs (publish a record,
//! change it, take it away). Messages are encoded and decoded with hickory-proto, the resolver's
//! own wire code, so Roster's resolver talks to it exactly as to any nameserver: no mock.
//! A name without records answers NXDOMAIN (authoritative).

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinEncodable};

type Zone = Arc<Mutex<HashMap<String, Vec<String>>>>;

/// The server; stops when dropped.
pub struct DnsServer {
    pub addr: SocketAddr,
    zone: Zone,
    queries: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn key(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.').to_ascii_lowercase())
}

impl DnsServer {
    pub fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let zone: Zone = Arc::default();
        let queries: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (zone, queries, stop) = (zone.clone(), queries.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    let Ok(query) = Message::from_bytes(&buf[..n]) else {
                        continue;
                    };
                    let answer = answer(&query, &zone, &queries);
                    let _ = socket.send_to(&answer.to_bytes().unwrap(), from);
                }
            })
        };
        Self {
            addr,
            zone,
            queries,
            stop,
            thread: Some(thread),
        }
    }

    /// Sets the TXT records at `name` (replacing any); empty: the name disappears.
    pub fn set_txt(&self, name: &str, values: &[&str]) {
        let mut zone = self.zone.lock().unwrap();
        if values.is_empty() {
            zone.remove(&key(name));
        } else {
            zone.insert(key(name), values.iter().map(|v| (*v).to_owned()).collect());
        }
    }

    /// The TXT names asked so far, in order.
    pub fn queries(&self) -> Vec<String> {
        self.queries.lock().unwrap().clone()
    }
}

fn answer(query: &Message, zone: &Zone, queries: &Mutex<Vec<String>>) -> Message {
    let mut response = Message::new();
    response
        .set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query)
        .set_authoritative(true)
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true);
    response.add_queries(query.queries().to_vec());
    let mut found = false;
    for question in query.queries() {
        let name = key(&question.name().to_ascii());
        queries.lock().unwrap().push(name.clone());
        if question.query_type() != RecordType::TXT {
            continue;
        }
        if let Some(values) = zone.lock().unwrap().get(&name) {
            found = true;
            for value in values {
                response.add_answer(Record::from_rdata(
                    question.name().clone(),
                    60,
                    RData::TXT(TXT::new(vec![value.clone()])),
                ));
            }
        }
    }
    if !found {
        response.set_response_code(ResponseCode::NXDomain);
    }
    response
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
