//! Configuration: built-in defaults < `roster.toml` (or `--config FILE`) < `ROSTER__SECTION__KEY`
//! environment variables, validated once at start so a mistake stops Roster with a message that
//! names the key, instead of failing later.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// Every setting, by section; docs/configuration.md documents each key (the tidy test checks it).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(default)]
    pub database: DatabaseSettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub security: SecuritySettings,
    #[serde(default)]
    pub scim: ScimLimits,
    #[serde(default)]
    pub events: EventSettings,
    #[serde(default)]
    pub webhooks: WebhookSettings,
    #[serde(default)]
    pub sso: SsoSettings,
    #[serde(default)]
    pub dns: DnsSettings,
}

/// The DNS look-ups of domain verification.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsSettings {
    /// The nameservers TXT records are looked up at (`IP` or `IP:PORT`); empty: the system's
    /// (`/etc/resolv.conf`).
    pub nameservers: Vec<String>,
    /// How often the background checker looks for pending domains whose next check is due;
    /// 0 runs no checker in this process.
    pub check_interval_secs: u64,
}

impl Default for DnsSettings {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            check_interval_secs: 30,
        }
    }
}

impl DnsSettings {
    /// `nameservers` as socket addresses (port 53 when none is given).
    pub fn nameserver_addrs(&self) -> anyhow::Result<Vec<SocketAddr>> {
        self.nameservers
            .iter()
            .map(|text| {
                let text = text.trim();
                text.parse::<SocketAddr>()
                    .or_else(|_| {
                        text.parse::<std::net::IpAddr>()
                            .map(|ip| SocketAddr::new(ip, 53))
                    })
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "dns.nameservers: {text:?} is not an address like 10.0.0.2 or 127.0.0.1:5353"
                        )
                    })
            })
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SsoSettings {
    /// Lifetime of a session; also how long a key retired by `roster keys rotate` keeps
    /// verifying (plus the key cache time).
    pub session_ttl_secs: i64,
    /// How long a replica reuses its in-memory copy of the session keys; a rotation by the CLI
    /// or another replica is picked up within this time.
    pub key_cache_secs: u64,
    /// Failed password logins of one account (workspace + user name) within
    /// `password_lockout_secs` that lock it, per replica; 0 turns the limit off.
    pub password_max_failures: u32,
    /// Failed password logins from one client address that lock it, per replica; 0 turns it off.
    pub password_max_failures_per_address: u32,
    /// The window failures are counted in, and the longest lock.
    pub password_lockout_secs: u64,
}

impl Default for SsoSettings {
    fn default() -> Self {
        let limits = roster_sso::throttle::ThrottleLimits::default();
        Self {
            session_ttl_secs: roster_sso::session::SESSION_SECONDS,
            key_cache_secs: roster_sso::session::KEY_CACHE_SECONDS,
            password_max_failures: limits.per_account,
            password_max_failures_per_address: limits.per_address,
            password_lockout_secs: limits.window.as_secs(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Run the delivery worker in this process: webhooks and the OpenID Provider's back-channel
    /// logouts (which use these settings too).
    pub enabled: bool,
    /// Pause between polls when nothing is due, in milliseconds.
    pub poll_interval_ms: u64,
    /// How long a claimed delivery is held before another worker may retry it.
    pub lease_secs: i64,
    /// Per-request timeout.
    pub timeout_secs: u64,
    /// First retry delay in milliseconds (doubles per attempt, ±20% jitter).
    pub retry_base_ms: u64,
    /// Longest retry delay.
    pub retry_max_secs: u64,
    /// Consecutive failures after which an endpoint is disabled.
    pub disable_after: u32,
    /// Days the delivery log keeps an attempt; older ones (except those at an event not yet
    /// delivered) and the log of deleted endpoints are pruned hourly.
    pub delivery_log_retention_days: u32,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval_ms: 250,
            lease_secs: 60,
            timeout_secs: 10,
            retry_base_ms: 5000,
            retry_max_secs: 3600,
            disable_after: 50,
            delivery_log_retention_days: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventSettings {
    /// Days directory events stay in the feed; older ones are pruned hourly.
    pub retention_days: u32,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self { retention_days: 30 }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScimLimits {
    /// Largest SCIM request body in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Page size when a client asks for none.
    pub default_page_size: i64,
    /// Largest page served.
    pub max_page_size: i64,
    /// Most operations in one PATCH.
    pub max_patch_operations: usize,
    /// Most operations in one Bulk request.
    pub max_bulk_operations: usize,
    /// Longest filter expression.
    pub max_filter_length: usize,
    /// Sustained SCIM requests per second per connection (per replica); 0 disables the limit.
    pub rate_limit_per_second: f64,
    /// SCIM requests a connection may send at once before the limit applies.
    pub rate_limit_burst: f64,
    /// How long a replica trusts a SCIM token the database accepted before reading it again. A
    /// revocation applies at once on the replica that made it and within this time on others;
    /// 0 reads the token at every request.
    pub token_cache_secs: u64,
}

impl Default for ScimLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            default_page_size: 100,
            max_page_size: 1000,
            max_patch_operations: 1000,
            max_bulk_operations: 1000,
            max_filter_length: 2048,
            rate_limit_per_second: 500.0,
            rate_limit_burst: 1000.0,
            token_cache_secs: 1,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on.
    pub bind: String,
    /// External base URL every SP and SCIM URL derives from (default `http://<bind>`).
    pub public_url: Option<String>,
    /// Worker threads (default: number of CPUs).
    pub workers: Option<usize>,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// A separate address for `/metrics` (then not served on `bind`), e.g. `127.0.0.1:9090`.
    pub metrics_bind: Option<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".to_owned(),
            public_url: None,
            workers: None,
            shutdown_timeout_secs: 30,
            metrics_bind: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST:PORT/DB`.
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout_secs: u64,
    /// SQLite: milliseconds to wait for the write lock.
    pub busy_timeout_ms: u64,
    /// SQLite: FULL (durable; default), NORMAL or EXTRA.
    pub sqlite_synchronous: String,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://./data/roster.db".to_owned(),
            pool_size: 8,
            connect_timeout_secs: 5,
            busy_timeout_ms: 5000,
            sqlite_synchronous: "FULL".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` (for people) or `json` (for log pipelines).
    pub format: String,
    /// A tracing filter, e.g. `info` or `info,roster_scim=debug`; `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "pretty".to_owned(),
            level: "info".to_owned(),
        }
    }
}

#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// Allow outbound URLs (IdP metadata, discovery, webhooks) to loopback, link-local and
    /// private ranges. Off by default (SSRF); local tests need it.
    pub allow_private_network_urls: bool,
    /// Non-public networks outbound requests may reach even with the switch above off, in CIDR
    /// notation (`10.1.2.0/24`): the subnet of an on-premises IdP, and nothing else.
    pub allowed_private_networks: Vec<String>,
    /// The key that seals the secrets Roster must use again (private keys, webhook secrets,
    /// upstream client secrets) in the database: base64 of 32 random bytes, from
    /// `roster data-key generate`. `roster serve` needs one.
    pub data_key: Option<String>,
    /// Keys that sealed before `data_key` took over: they still open what they sealed, until
    /// `serve`'s start-up pass has sealed it again with `data_key`.
    pub previous_data_keys: Vec<String>,
}

/// The data keys never reach a log through `{:?}`: whether they are set does.
impl std::fmt::Debug for SecuritySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecuritySettings")
            .field(
                "allow_private_network_urls",
                &self.allow_private_network_urls,
            )
            .field("allowed_private_networks", &self.allowed_private_networks)
            .field("data_key_set", &self.data_key.is_some())
            .field("previous_data_keys", &self.previous_data_keys.len())
            .finish()
    }
}

/// The configuration keys whose values are secrets: `roster config check` masks them.
pub const SECRET_KEYS: [&str; 2] = ["security.data_key", "security.previous_data_keys"];

/// Where the value of a key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    Default,
    /// The configuration file (`roster.toml`, or `--config FILE`).
    File,
    /// A `ROSTER__SECTION__KEY` environment variable (or `RUST_LOG` for `log.level`).
    Environment,
}

impl KeySource {
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::Default => "default",
            KeySource::File => "file",
            KeySource::Environment => "environment",
        }
    }
}

/// Which layer set each key: what `roster config check` reports.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The configuration file read, if any.
    pub file: Option<std::path::PathBuf>,
    file_layer: Option<config::Config>,
    env_layer: Option<config::Config>,
}

impl Provenance {
    /// The layer `key` (dotted, e.g. `server.bind`) came from.
    pub fn source_of(&self, key: &str) -> KeySource {
        let set_in = |layer: &Option<config::Config>| {
            layer
                .as_ref()
                .is_some_and(|layer| layer.get::<config::Value>(key).is_ok())
        };
        if set_in(&self.env_layer) {
            KeySource::Environment
        } else if set_in(&self.file_layer) {
            KeySource::File
        } else {
            KeySource::Default
        }
    }
}

/// The environment variable that sets `key`.
pub fn environment_variable(key: &str) -> String {
    format!("ROSTER__{}", key.replace('.', "__").to_uppercase())
}

fn environment_source() -> config::Environment {
    config::Environment::with_prefix("ROSTER")
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .list_separator(",")
        .with_list_parse_key("security.allowed_private_networks")
        .with_list_parse_key("security.previous_data_keys")
        .with_list_parse_key("dns.nameservers")
}

impl Settings {
    /// Loads and validates the configuration.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Self> {
        Ok(Self::load_with_provenance(config_file)?.0)
    }

    /// Loads and validates the configuration, and says which layer set each key.
    pub fn load_with_provenance(config_file: Option<&Path>) -> anyhow::Result<(Self, Provenance)> {
        let file: config::File<_, _> = match config_file {
            Some(path) => {
                if !path.exists() {
                    bail!("configuration file {} does not exist", path.display());
                }
                config::File::from(path)
            }
            None => config::File::with_name("roster.toml").required(false),
        };
        let settings: Settings = config::Config::builder()
            .add_source(file.clone())
            .add_source(environment_source())
            .build()
            .context("reading the configuration")?
            .try_deserialize()
            .context("invalid configuration")?;
        settings.validate()?;
        let provenance = Provenance {
            file: match config_file {
                Some(path) => Some(path.to_owned()),
                None => Some(std::path::PathBuf::from("roster.toml")).filter(|path| path.exists()),
            },
            file_layer: config::Config::builder().add_source(file).build().ok(),
            env_layer: config::Config::builder()
                .add_source(environment_source())
                .build()
                .ok(),
        };
        Ok((settings, provenance))
    }

    /// Every key (dotted) with its effective value, in document order of the sections.
    pub fn keys(&self) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
        fn flatten(
            prefix: &str,
            value: serde_json::Value,
            out: &mut Vec<(String, serde_json::Value)>,
        ) {
            match value {
                serde_json::Value::Object(map) => {
                    for (name, value) in map {
                        let key = if prefix.is_empty() {
                            name
                        } else {
                            format!("{prefix}.{name}")
                        };
                        flatten(&key, value, out);
                    }
                }
                leaf => out.push((prefix.to_owned(), leaf)),
            }
        }
        let mut out = Vec::new();
        flatten("", serde_json::to_value(self)?, &mut out);
        Ok(out)
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.bind_addr()?;
        let public = self.public_url();
        if !(public.starts_with("http://") || public.starts_with("https://")) {
            bail!("server.public_url must start with http:// or https://, got {public:?}");
        }
        if public.contains('?') || public.contains('#') {
            bail!("server.public_url must not have a query or fragment, got {public:?}");
        }
        // A malformed URL is a configuration mistake, not an unavailable database: its reason
        // (which names database.url) without the store's "database unavailable".
        roster_store::DatabaseUrl::parse(&self.database.url).map_err(|err| match err {
            roster_store::StoreError::Unavailable(reason) => anyhow::anyhow!(reason),
            other => anyhow::anyhow!("database.url: {other}"),
        })?;
        if self.database.pool_size == 0 {
            bail!("database.pool_size must be at least 1");
        }
        crate::telemetry::check_filter(&self.log.level)
            .map_err(|reason| anyhow::anyhow!("log.level: {reason}"))?;
        if !matches!(
            self.database
                .sqlite_synchronous
                .to_ascii_uppercase()
                .as_str(),
            "FULL" | "NORMAL" | "EXTRA"
        ) {
            bail!(
                "database.sqlite_synchronous must be FULL, NORMAL or EXTRA, got {:?}",
                self.database.sqlite_synchronous
            );
        }
        if !matches!(self.log.format.as_str(), "pretty" | "json") {
            bail!(
                "log.format must be \"pretty\" or \"json\", got {:?}",
                self.log.format
            );
        }
        if self.scim.max_body_bytes < 1024 {
            bail!("scim.max_body_bytes must be at least 1024");
        }
        if self.scim.token_cache_secs > 60 {
            bail!(
                "scim.token_cache_secs must be at most 60: other replicas accept a revoked token \
                 for that long"
            );
        }
        if self.scim.rate_limit_per_second < 0.0 {
            bail!("scim.rate_limit_per_second must be 0 (off) or more");
        }
        if self.scim.default_page_size < 1 || self.scim.max_page_size < self.scim.default_page_size
        {
            bail!("scim.default_page_size must be at least 1 and at most scim.max_page_size");
        }
        if self.webhooks.lease_secs < 1
            || self.webhooks.timeout_secs < 1
            || self.webhooks.disable_after < 1
        {
            bail!("webhooks.lease_secs, webhooks.timeout_secs and webhooks.disable_after must be at least 1");
        }
        if self.events.retention_days == 0 {
            bail!("events.retention_days must be at least 1");
        }
        if self.webhooks.delivery_log_retention_days == 0 {
            bail!("webhooks.delivery_log_retention_days must be at least 1");
        }
        if self.sso.session_ttl_secs < 1 {
            bail!("sso.session_ttl_secs must be at least 1");
        }
        if self.sso.password_lockout_secs < 1 {
            bail!("sso.password_lockout_secs must be at least 1");
        }
        if self.server.workers == Some(0) {
            bail!("server.workers must be at least 1");
        }
        if let Some(metrics_addr) = self.metrics_addr()? {
            if Some(metrics_addr) == self.server.bind.parse().ok() {
                bail!("server.metrics_bind must differ from server.bind (leave it unset to serve /metrics on server.bind)");
            }
        }
        for network in &self.security.allowed_private_networks {
            network
                .parse::<roster_outbound::IpNetwork>()
                .map_err(|err| anyhow::anyhow!("security.allowed_private_networks: {err}"))?;
        }
        self.dns.nameserver_addrs()?;
        self.parsed_data_keys()?;
        Ok(())
    }

    /// `security.data_key` and `security.previous_data_keys`, parsed; an error names the key,
    /// never its value.
    fn parsed_data_keys(&self) -> anyhow::Result<roster_store::DataKeys> {
        let current = match self.security.data_key.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(
                roster_store::DataKey::parse(text)
                    .map_err(|reason| anyhow::anyhow!("security.data_key {reason}"))?,
            ),
        };
        let previous = self
            .security
            .previous_data_keys
            .iter()
            .filter(|text| !text.trim().is_empty())
            .map(|text| {
                roster_store::DataKey::parse(text).map_err(|reason| {
                    anyhow::anyhow!("an entry of security.previous_data_keys {reason}")
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(roster_store::DataKeys::new(current, previous))
    }

    /// Why `roster serve` refuses this configuration, if it does: no `security.data_key`. A
    /// valid configuration otherwise, so `config check` shows it as a warning.
    pub fn serve_refusal(&self) -> Option<String> {
        self.data_keys().current_id().is_none().then(|| {
            format!(
                "security.data_key is not set: `roster serve` refuses to start without it, since it \
                 seals the private keys and secrets it stores with it. Make one with `roster \
                 data-key generate` and set it in the configuration file or as {} \
                 (docs/security.md, Secrets at rest)",
                environment_variable("security.data_key")
            )
        })
    }

    /// The data keys the store seals and opens secrets with (`validate` checked they parse).
    pub fn data_keys(&self) -> roster_store::DataKeys {
        self.parsed_data_keys().unwrap_or_default()
    }

    /// The resolver of domain verification (`dns.nameservers`; `validate` refused entries that
    /// are no address, so none is dropped here).
    pub fn dns_resolver(&self) -> roster_outbound::DnsResolver {
        roster_outbound::DnsResolver::new(self.dns.nameserver_addrs().unwrap_or_default())
    }

    pub fn bind_addr(&self) -> anyhow::Result<SocketAddr> {
        self.server.bind.parse().with_context(|| {
            format!(
                "server.bind must be an address like 127.0.0.1:8080, got {:?}",
                self.server.bind
            )
        })
    }

    /// `server.metrics_bind` as an address, when set (empty means unset).
    pub fn metrics_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        match self.server.metrics_bind.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(addr) => addr.parse().map(Some).with_context(|| {
                format!("server.metrics_bind must be an address like 127.0.0.1:9090, got {addr:?}")
            }),
        }
    }

    /// The external base URL, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.server.public_url {
            Some(url) if !url.is_empty() => url.trim_end_matches('/').to_owned(),
            _ => format!("http://{}", self.server.bind),
        }
    }

    /// The SCIM service settings derived from this configuration.
    pub fn scim_settings(&self) -> roster_scim::ScimSettings {
        roster_scim::ScimSettings {
            base_url: format!("{}/scim/v2", self.public_url()),
            max_body_bytes: self.scim.max_body_bytes,
            default_page_size: self.scim.default_page_size,
            max_page_size: self.scim.max_page_size,
            max_patch_operations: self.scim.max_patch_operations,
            max_bulk_operations: self.scim.max_bulk_operations,
            max_filter_length: self.scim.max_filter_length,
        }
    }

    /// The per-connection SCIM rate limit.
    pub fn scim_rate_limit(&self) -> roster_scim::rate_limit::RateLimit {
        roster_scim::rate_limit::RateLimit {
            per_second: self.scim.rate_limit_per_second,
            burst: self.scim.rate_limit_burst.max(1.0),
        }
    }

    /// Which non-public addresses outbound requests may reach. Entries of
    /// `security.allowed_private_networks` that do not parse were refused by `validate`.
    pub fn network_policy(&self) -> roster_outbound::NetworkPolicy {
        roster_outbound::NetworkPolicy::new(
            self.security.allow_private_network_urls,
            self.security
                .allowed_private_networks
                .iter()
                .filter_map(|network| network.parse().ok())
                .collect(),
        )
    }

    /// The outbound HTTP client for IdP metadata and OIDC (webhooks have their own timeouts).
    pub fn outbound_client(&self) -> roster_outbound::Client {
        roster_outbound::Client::new(self.network_policy(), roster_outbound::Timeouts::default())
    }

    /// The webhook worker's settings.
    pub fn webhook_worker(&self) -> roster_webhooks::WorkerSettings {
        let hooks = &self.webhooks;
        roster_webhooks::WorkerSettings {
            poll_interval: Duration::from_millis(hooks.poll_interval_ms),
            lease_secs: hooks.lease_secs,
            timeout: Duration::from_secs(hooks.timeout_secs),
            retry: roster_webhooks::RetryPolicy {
                base: Duration::from_millis(hooks.retry_base_ms),
                max: Duration::from_secs(hooks.retry_max_secs),
                disable_after: hooks.disable_after,
            },
            network: self.network_policy(),
        }
    }

    /// Session lifetime and key caching.
    pub fn session_options(&self) -> roster_sso::session::SessionOptions {
        roster_sso::session::SessionOptions {
            ttl_seconds: self.sso.session_ttl_secs,
            key_cache: Duration::from_secs(self.sso.key_cache_secs),
        }
    }

    /// The failed password-login limits.
    pub fn password_limits(&self) -> roster_sso::throttle::ThrottleLimits {
        roster_sso::throttle::ThrottleLimits {
            per_account: self.sso.password_max_failures,
            per_address: self.sso.password_max_failures_per_address,
            window: Duration::from_secs(self.sso.password_lockout_secs),
        }
    }

    pub fn pool_options(&self) -> roster_store::PoolOptions {
        roster_store::PoolOptions {
            max_size: self.database.pool_size,
            connect_timeout: Duration::from_secs(self.database.connect_timeout_secs),
            busy_timeout: Duration::from_millis(self.database.busy_timeout_ms),
            sqlite_synchronous: self.database.sqlite_synchronous.clone(),
            scim_token_cache: Duration::from_secs(self.scim.token_cache_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delivery_log_keeps_30_days_by_default_and_at_least_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.toml");
        assert_eq!(Settings::default().webhooks.delivery_log_retention_days, 30);
        std::fs::write(&path, "[webhooks]\ndelivery_log_retention_days = 7\n").unwrap();
        let settings = Settings::load(Some(&path)).unwrap();
        assert_eq!(settings.webhooks.delivery_log_retention_days, 7);
        std::fs::write(&path, "[webhooks]\ndelivery_log_retention_days = 0\n").unwrap();
        let refused = format!("{:#}", Settings::load(Some(&path)).unwrap_err());
        assert!(
            refused.contains("webhooks.delivery_log_retention_days"),
            "{refused}"
        );
    }

    #[test]
    fn data_keys_parse_stop_the_start_when_malformed_and_never_reach_a_debug_print() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.toml");
        let key = roster_store::DataKey::generate().unwrap();
        let previous = roster_store::DataKey::generate().unwrap();
        std::fs::write(
            &path,
            format!("[security]\ndata_key = \"{key}\"\nprevious_data_keys = [\"{previous}\"]\n"),
        )
        .unwrap();
        let settings = Settings::load(Some(&path)).unwrap();
        assert_eq!(
            settings.data_keys().current_id(),
            Some(roster_store::DataKey::parse(&key).unwrap().id())
        );
        let printed = format!("{settings:?}");
        assert!(
            !printed.contains(&key) && !printed.contains(&previous),
            "{printed}"
        );
        assert_eq!(Settings::default().data_keys().current_id(), None);
        std::fs::write(&path, "[security]\ndata_key = \"c2hvcnQ=\"\n").unwrap();
        let refused = format!("{:#}", Settings::load(Some(&path)).unwrap_err());
        assert!(
            refused.contains("security.data_key must be 32 bytes"),
            "{refused}"
        );
        std::fs::write(
            &path,
            format!("[security]\ndata_key = \"{key}\"\nprevious_data_keys = [\"nope\"]\n"),
        )
        .unwrap();
        let refused = format!("{:#}", Settings::load(Some(&path)).unwrap_err());
        assert!(refused.contains("security.previous_data_keys"), "{refused}");
    }

    #[test]
    fn dns_nameservers_take_addresses_with_or_without_a_port_and_typos_stop_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.toml");
        std::fs::write(
            &path,
            "[dns]\nnameservers = [\"10.0.0.2\", \"127.0.0.1:5353\", \"::1\"]\n",
        )
        .unwrap();
        let settings = Settings::load(Some(&path)).unwrap();
        let addrs: Vec<String> = settings
            .dns
            .nameserver_addrs()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(addrs, ["10.0.0.2:53", "127.0.0.1:5353", "[::1]:53"]);
        assert_eq!(Settings::default().dns.nameservers, Vec::<String>::new());
        std::fs::write(&path, "[dns]\nnameservers = [\"ns1.example\"]\n").unwrap();
        let refused = format!("{:#}", Settings::load(Some(&path)).unwrap_err());
        assert!(refused.contains("dns.nameservers"), "{refused}");
    }

    #[test]
    fn allowed_private_networks_open_exactly_those_networks_and_typos_stop_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.toml");
        std::fs::write(
            &path,
            "[security]\nallowed_private_networks = [\"10.1.2.0/24\", \"fd00:1::/32\"]\n",
        )
        .unwrap();
        let policy = Settings::load(Some(&path)).unwrap().network_policy();
        for (address, allowed) in [
            ("10.1.2.9", true),
            ("fd00:1::5", true),
            ("10.1.3.9", false),
            ("127.0.0.1", false),
            ("8.8.8.8", true),
        ] {
            assert_eq!(
                policy.check_address(address.parse().unwrap()).is_ok(),
                allowed,
                "{address}"
            );
        }
        std::fs::write(
            &path,
            "[security]\nallowed_private_networks = [\"10.1.2.3/24\"]\n",
        )
        .unwrap();
        let refused = format!("{:#}", Settings::load(Some(&path)).unwrap_err());
        assert!(
            refused.contains("security.allowed_private_networks")
                && refused.contains("10.1.2.0/24"),
            "{refused}"
        );
    }
}
