//! The operator command line. Scripts and tests drive Roster through it: commands, flags and
//! outputs are a contract (see docs/cli.md), so change them only compatibly.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = "Roster: SSO, SCIM and group-to-role mapping for workspace products"
)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./roster.toml when it exists. Environment variables
    /// ROSTER__SECTION__KEY override it.
    #[arg(long, global = true, env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Ask the `roster serve` of this configuration whether it is ready (GET /readyz on
    /// server.bind, loopback for 0.0.0.0 / [::]): exit 0 when it answers 200, else 1 with the
    /// reason. For container health checks; opens no database.
    Healthcheck {
        /// Give up after this many seconds without an answer (connecting, then reading).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
        timeout_secs: u64,
    },
    /// Check the configuration (and that the database answers); print it with secrets masked.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The key that seals stored secrets (security.data_key); opens no database.
    #[command(subcommand, name = "data-key")]
    DataKey(DataKeyCommand),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage IdP connections.
    #[command(subcommand)]
    Connection(ConnectionCommand),
    /// Manage SCIM tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage workspace admins.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage roles.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Inspect users.
    #[command(subcommand)]
    User(UserCommand),
    /// Print a whole workspace as JSON (settings, connections, users, groups, memberships, roles,
    /// mappings; token and key hashes, never plaintext secrets).
    Export {
        #[arg(long)]
        workspace: String,
    },
    /// Read an export from stdin into a new or empty workspace of the same slug (all or nothing).
    Import,
    /// Manage admin API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Manage operator keys: the SaaS operator's keys to /api/v1/operator (every workspace).
    #[command(subcommand, name = "operator-key")]
    OperatorKey(OperatorKeyCommand),
    /// Manage group mappings (IdP group -> app group and/or role).
    #[command(subcommand)]
    Mapping(MappingCommand),
    /// Manage the keys that sign session tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the products (OAuth/OpenID Connect clients) that sign users in through Roster.
    #[command(subcommand)]
    App(AppCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IdTokenAlgArg {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
}

#[derive(Debug, Args)]
pub struct AppCreate {
    /// The product's name, shown to operators.
    #[arg(long)]
    pub name: String,
    /// Where codes may be sent, exactly as the product's OIDC library sends it (repeatable):
    /// https, or http on 127.0.0.1 / [::1].
    #[arg(long = "redirect-uri", required = true)]
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where back-channel logout tokens are POSTed.
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// A public app (SPA, native app): no client secret; PKCE required.
    #[arg(long)]
    pub public: bool,
    /// How ID tokens are signed.
    #[arg(long, value_enum, default_value = "RS256", ignore_case = true)]
    pub id_token_alg: IdTokenAlgArg,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register a product; prints it as JSON with its client_secret (shown this once).
    Create(Box<AppCreate>),
    /// List the registered products as JSON (never their secrets).
    List,
    /// Show one product as JSON (never its secret).
    Show { client_id: String },
    /// Give a product a new client secret (shown this once); the previous one keeps working for
    /// 24 hours.
    RotateSecret {
        client_id: String,
        /// End the previous secret now (after a leak).
        #[arg(long)]
        revoke_previous: bool,
    },
    /// Delete a product at once, with every sign-in, code and refresh token issued to it.
    Delete { client_id: String },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new key sign sessions; the previous key keeps verifying the sessions it signed
    /// until they expire. Prints {"kid", "retired_kid", "previous_keys_valid_until"}.
    Rotate {
        /// End the previous keys now, and every session they signed (after a key leak).
        #[arg(long)]
        revoke_previous: bool,
    },
    /// List the session keys (never their private half): kid, dates and status.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key that acts as a workspace admin on /api/v1/admin; prints only the key.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List a workspace's API keys as JSON: id, name, hint and dates, never the key.
    List {
        #[arg(long)]
        workspace: String,
    },
    /// Revoke an API key (by the id `list` shows): it is refused from its next request on.
    Revoke {
        #[arg(long)]
        workspace: String,
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OperatorKeyCommand {
    /// Create an operator key for /api/v1/operator; prints only the key (shown this once).
    Create {
        #[arg(long)]
        name: String,
    },
    /// List the operator keys as JSON: id, name, hint and dates, never the key.
    List,
    /// Revoke an operator key (by the id `list` shows): it is refused from its next request on.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Map an IdP group to an app group and/or a role; prints the mapping as JSON.
    Create {
        #[arg(long)]
        workspace: String,
        /// The connection whose IdP group this is.
        #[arg(long)]
        connection: String,
        /// The IdP group's stable key: SCIM group id or externalId, or a JIT claim value.
        #[arg(long)]
        idp_group: String,
        /// The app group its members join (created when it does not exist).
        #[arg(long)]
        group: Option<String>,
        /// The role its members get.
        #[arg(long)]
        role: Option<String>,
    },
    /// Delete a mapping and what it brought.
    Delete {
        #[arg(long)]
        workspace: String,
        id: String,
    },
    /// List a workspace's mappings as JSON.
    List {
        #[arg(long)]
        workspace: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and reach the database; exit 1 with the reason if either fails.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum DataKeyCommand {
    /// Print a new random data key (base64 of 32 bytes) for security.data_key.
    Generate,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace; prints {"id", "slug"}.
    Create {
        /// URL-safe short name: lowercase letters, digits, dashes.
        slug: String,
        /// Display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
        /// An email domain the workspace owns (repeatable).
        #[arg(long = "domain")]
        domains: Vec<String>,
    },
    /// List workspaces as JSON.
    List,
    /// Delete a workspace and everything in it (connections, tokens, API keys, users, groups,
    /// roles, mappings, webhooks and its history). Cannot be undone: `--confirm` must repeat
    /// the slug.
    Delete {
        slug: String,
        /// The workspace's slug again, to confirm.
        #[arg(long)]
        confirm: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Saml,
    Oidc,
    Scim,
}

#[derive(Debug, Args)]
pub struct ConnectionCreate {
    #[arg(long)]
    pub workspace: String,
    #[arg(long)]
    pub name: String,
    #[arg(long, value_enum)]
    pub kind: KindArg,
    /// Turn SCIM provisioning on for a saml/oidc connection.
    #[arg(long)]
    pub scim: bool,
    /// SAML/OIDC: an email domain this connection's logins are authoritative for (repeatable).
    #[arg(long = "domain")]
    pub domains: Vec<String>,
    /// IdP vendor hint: entra, okta, onelogin, google, generic.
    #[arg(long, default_value = "generic")]
    pub vendor: String,
    /// SAML: the IdP metadata URL.
    #[arg(long)]
    pub idp_metadata_url: Option<String>,
    /// SAML: the IdP metadata file.
    #[arg(long)]
    pub idp_metadata_file: Option<PathBuf>,
    /// OIDC: the issuer URL.
    #[arg(long)]
    pub issuer: Option<String>,
    /// OIDC: the client id.
    #[arg(long)]
    pub client_id: Option<String>,
    /// OIDC: a file holding the client secret (or set ROSTER_CLIENT_SECRET).
    #[arg(long)]
    pub client_secret_file: Option<PathBuf>,
    /// OIDC: client_secret_basic (default) or client_secret_post.
    #[arg(long)]
    pub token_auth_method: Option<String>,
    /// SAML: accept IdP-initiated logins (unsolicited responses).
    #[arg(long)]
    pub allow_idp_initiated: bool,
    /// SAML/OIDC, JIT profile sync: first_login (default) or every_login.
    #[arg(long)]
    pub profile_sync: Option<String>,
    /// SAML/OIDC, JIT group sync: off or every_login (default).
    #[arg(long)]
    pub group_sync: Option<String>,
    /// SAML: every login makes the IdP authenticate the user again (ForceAuthn).
    #[arg(long)]
    pub force_authn: bool,
    /// SAML: an AuthnContextClassRef every AuthnRequest asks for (repeatable, at most 10).
    #[arg(long)]
    pub requested_authn_context: Vec<String>,
    /// SAML: optional (default) accepts plain and encrypted assertions; required refuses
    /// plain ones.
    #[arg(long, value_enum)]
    pub assertion_encryption: Option<AssertionEncryptionArg>,
    /// SAML: sign AuthnRequests with the connection's signing key.
    #[arg(long)]
    pub sign_authn_requests: bool,
    /// SAML: a Roster sign-out ends the Roster session only, not the IdP's (for an IdP that
    /// publishes a logout endpoint but was not given Roster's).
    #[arg(long)]
    pub no_single_logout: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AssertionEncryptionArg {
    Optional,
    Required,
}

#[derive(Debug, Args)]
pub struct SetMetadata {
    #[arg(long)]
    pub workspace: String,
    /// The connection's name.
    pub name: String,
    /// The IdP metadata URL (fetched now and refreshed on a schedule).
    #[arg(long)]
    pub idp_metadata_url: Option<String>,
    /// The IdP metadata file.
    #[arg(long)]
    pub idp_metadata_file: Option<PathBuf>,
    /// Accept IdP-initiated logins (unsolicited responses).
    #[arg(long)]
    pub allow_idp_initiated: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Create a connection; prints the values to paste into the IdP as JSON.
    Create(Box<ConnectionCreate>),
    /// Give a SAML connection its IdP metadata: a draft's first (it becomes active) or a
    /// replacement, checked as at creation (a signing certificate, ...).
    SetMetadata(SetMetadata),
    /// List a workspace's connections as JSON (never a secret).
    List {
        #[arg(long)]
        workspace: String,
    },
    /// Revoke a connection: its logins and SCIM tokens stop at once; its users, groups and
    /// history stay.
    Revoke {
        #[arg(long)]
        workspace: String,
        name: String,
    },
    /// A SAML connection's own keys (request signing, assertion decryption).
    #[command(subcommand)]
    Keys(SpKeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum SpKeysCommand {
    /// List the connection's keys as JSON (never a private half): id, use, status, expiry,
    /// and which one signs.
    List {
        #[arg(long)]
        workspace: String,
        /// The connection's name.
        name: String,
    },
    /// Publish a new key beside the current one (both decrypt; the old one keeps signing until
    /// it is retired). Generated, or the operator's own with --key-file and --cert-file.
    Rotate {
        #[arg(long)]
        workspace: String,
        name: String,
        #[arg(long = "use", value_enum)]
        key_use: SpKeyUseArg,
        /// A PEM RSA private key (2048 bits or more) to use instead of a generated one.
        #[arg(long, requires = "cert_file")]
        key_file: Option<PathBuf>,
        /// The PEM certificate for --key-file.
        #[arg(long, requires = "key_file")]
        cert_file: Option<PathBuf>,
    },
    /// Retire a key once the IdP has the new one: unpublished, its private half erased. An IdP
    /// still using it fails from then on, so --confirm must repeat the key's id.
    Retire {
        #[arg(long)]
        workspace: String,
        name: String,
        /// The key's id (`spk_…`, from `keys list`).
        key: String,
        /// The key's id again.
        #[arg(long)]
        confirm: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpKeyUseArg {
    Signing,
    Encryption,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a SCIM token for a connection; prints only the token.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        connection: String,
        /// A label to tell tokens apart.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Expire the token after this many days, 1 to 3650 (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List SCIM tokens as JSON: id, name, hint, connection and dates, never the token.
    List {
        #[arg(long)]
        workspace: String,
        /// Only this connection's tokens.
        #[arg(long)]
        connection: Option<String>,
    },
    /// Revoke a SCIM token (by the id `list` shows): requests with it are refused from now on.
    Revoke {
        #[arg(long)]
        workspace: String,
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a workspace admin, or reset one: re-enables a disabled account and sets a new
    /// password; prints a one-time password and the login URL.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a role; higher rank wins as a user's primary role.
    Create {
        #[arg(long)]
        workspace: String,
        name: String,
        #[arg(long, default_value_t = 0)]
        rank: i32,
    },
    /// List a workspace's roles as JSON, highest rank first.
    List {
        #[arg(long)]
        workspace: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Show a user as JSON.
    Show {
        #[arg(long)]
        workspace: String,
        #[arg(long, conflicts_with = "id", required_unless_present = "id")]
        user_name: Option<String>,
        #[arg(long)]
        id: Option<String>,
    },
    /// Re-enable a disabled user (the way back in for an admin disabled by mistake); prints the
    /// user as `show` does.
    Enable(UserSelector),
    /// Disable a user: their sessions and app sign-ins end at once; prints the user as `show`
    /// does.
    Disable(UserSelector),
}

/// Which user a command acts on: by user name or by id, in a workspace.
#[derive(Debug, Args)]
pub struct UserSelector {
    #[arg(long)]
    pub workspace: String,
    #[arg(long, conflicts_with = "id", required_unless_present = "id")]
    pub user_name: Option<String>,
    #[arg(long)]
    pub id: Option<String>,
}
