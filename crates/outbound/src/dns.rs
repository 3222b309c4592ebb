//! DNS look-ups Roster makes on its own: the TXT record that proves a workspace owns a domain
//! (`_roster-challenge.DOMAIN`). The resolver is the system's (`/etc/resolv.conf`) unless the
//! configuration names nameservers (`dns.nameservers`), which is also how the tests point it at
//! a real DNS server on loopback.
//!
//! Nothing is cached: each check asks the nameservers again, so a record just published (or
//! just removed) is seen by the next check rather than after a TTL. A resolver is built per
//! look-up, on the runtime of the task that asks, so no connection task outlives it on another
//! runtime's thread.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::Resolver;

use crate::OutboundError;

/// How long one look-up may take, retries included.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Which nameservers TXT look-ups ask.
#[derive(Debug, Clone, Default)]
pub struct DnsResolver {
    /// Empty: the system's resolver configuration.
    nameservers: Vec<SocketAddr>,
}

impl DnsResolver {
    /// Asks `nameservers` (UDP, falling back to TCP for a truncated answer), or the system's
    /// nameservers when empty.
    pub fn new(nameservers: Vec<SocketAddr>) -> Self {
        Self { nameservers }
    }

    /// The TXT records at `name`, each record's strings joined (as SPF and ACME read them).
    /// No such name, or no TXT record at it: an empty list. A resolver that cannot answer
    /// (timeout, SERVFAIL, refused, no nameserver configured): `Unresolvable`.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, OutboundError> {
        let unresolvable = |message: String| OutboundError::Unresolvable {
            host: name.to_owned(),
            message,
        };
        let mut builder = if self.nameservers.is_empty() {
            Resolver::builder_tokio().map_err(|err| unresolvable(err.to_string()))?
        } else {
            let mut config = ResolverConfig::new();
            for address in &self.nameservers {
                config.add_name_server(NameServerConfig::new(*address, Protocol::Udp));
                config.add_name_server(NameServerConfig::new(*address, Protocol::Tcp));
            }
            Resolver::builder_with_config(config, TokioConnectionProvider::default())
        };
        let options: &mut ResolverOpts = builder.options_mut();
        options.cache_size = 0;
        options.timeout = Duration::from_secs(2);
        options.attempts = 2;
        let resolver = builder.build();
        // Fully qualified: no search domain is appended.
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let lookup = tokio::time::timeout(TIMEOUT, resolver.txt_lookup(fqdn)).await;
        match lookup {
            Err(_) => Err(unresolvable("no answer in time".to_owned())),
            Ok(Ok(found)) => Ok(found
                .iter()
                .map(|txt| {
                    txt.iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>()
                })
                .collect()),
            Ok(Err(err)) if err.is_nx_domain() || err.is_no_records_found() => Ok(Vec::new()),
            Ok(Err(err)) => Err(unresolvable(err.to_string())),
        }
    }
}
