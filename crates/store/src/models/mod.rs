//! One file per table: the row types, their conversion to domain types, and the operations.

mod admin_invitation;
mod admins;
mod api_key;
mod attribute_rules;
pub use attribute_rules::AttributeRoleRule;
mod attribute_values;
pub(crate) use attribute_values::{rebuild_every_attribute_index, ATTRIBUTE_INDEX_MIGRATION};
mod attributes;
pub use attributes::AttributeMapping;
mod audit;
mod backchannel_logouts;
mod backup;
mod certificate_warning;
mod connection;
mod directory;
mod events;
mod group;
mod jit;
mod list_totals;
mod login_events;
mod mapping;
mod oauth_apps;
mod oauth_auth_requests;
mod oauth_codes;
mod oauth_grants;
mod oauth_refresh_tokens;
mod oauth_signing_keys;
mod operator_key;
mod profile;
mod provisioning;
mod role;
mod saml_session;
mod saml_sp_key;
mod scim_groups;
mod sealing_pass;
pub use sealing_pass::SealingReport;
mod scim_status;
mod scim_users;
mod session_keys;
mod setup_link;
mod sign_in;
mod sign_out;
mod sso_state;
mod test_sign_ins;
mod token;
mod token_cache;
mod user;
mod webhook_deliveries;
mod webhook_log;
mod webhooks;
mod workspace;
mod workspace_domain;

pub use admin_invitation::{Acceptance, AdminInvitation, InvitationRefusal};
pub use api_key::{ApiKeyPrincipal, KeyInfo};
pub use attribute_values::{
    json_of as attribute_json, raw_scalars, typed as typed_attribute, AttributeEdit,
};
pub use audit::record_audit;
pub use backchannel_logouts::{BackchannelClaim, BackchannelLogout};
pub use connection::{ConnectionUpdate, NewConnection};
pub use directory::{AdminPage, AttributeFilter};
pub use events::{
    connection_json, group_json, unknown_event_types, user_json, ConnectionResource, Event,
    EventMessage, GroupResource, UserResource, WorkspaceResource, EVENT_TYPES,
};
pub use group::NewGroup;
pub use jit::{JitError, JitOutcome, JitPreview};
pub(crate) use list_totals::ListTotals;
pub use login_events::{LoginEvent, LoginOutcomes, NewLoginEvent};
pub use mapping::{CreatedMapping, IdpGroupRef, NamedMapping, NewMapping};
pub use oauth_apps::{ClientAuthMethod, DeletedOAuthApp, NewOAuthApp, OAuthApp, SigningAlg};
pub use oauth_auth_requests::{OAuthAuthRequest, AUTH_REQUEST_TTL_SECONDS};
pub use oauth_codes::{
    code_redeemable, CodeBinding, CodeRedemption, OAuthCode, RedeemedCode, CODE_TTL_SECONDS,
};
pub use oauth_grants::{
    grant_liveness, GrantNotLive, GrantSubject, InvalidGrant, NewOAuthGrant, OAuthGrant,
    RevokeReason, SignedInApp,
};
pub use oauth_refresh_tokens::{
    refresh_usable, OAuthRefreshToken, RotatedRefreshToken, REFRESH_TOKEN_TTL_SECONDS,
};
pub use oauth_signing_keys::{SigningKeyRecord, SigningKeyRotation, SigningKeyStatus};
pub use profile::UserProfile;
pub use provisioning::{
    NewProvisioningEntry, ProvisioningEntry, ScimWriteTimes, LAST_SYNC_RESOLUTION,
};
pub(crate) use provisioning::{SyncMarks, WriteCounters};
pub use saml_session::SamlSession;
pub use saml_sp_key::{signing_sp_key, NewSpKey, SpKeyExpiry, SpKeyFacts, SpKeyRecord};
pub use scim_groups::{GroupUpdate, MemberOp, MemberRef, MemberReport};
pub use scim_status::ScimConnectionStatus;
pub use scim_users::{
    remove_user_attributes, CreateOutcome, ScimScope, UserUpdate, NEVER_STORED_USER_ATTRIBUTES,
};
pub use session_keys::{KeyRotation, SessionKeyRecord, SessionKeyStatus};
pub use setup_link::{NewSetupLink, SetupLink};
pub use sign_in::OneTimeAssertion;
pub use sign_out::SignedOutEverywhere;
pub use sso_state::SsoRequest;
pub use test_sign_ins::{
    TestSignIn, TestSignInStatus, TestStartRefused, TEST_SIGN_IN_KEPT_SECONDS, TEST_SIGN_IN_SECONDS,
};
pub use token::{ScimPrincipal, ScimTokenInfo};
pub(crate) use token_cache::TokenCache;
pub use user::NewUser;
pub use webhook_deliveries::{NextBatch, PendingDelivery, WebhookBatch};
pub use webhook_log::DELIVERY_LOG_PRUNE_BATCH;
pub use webhooks::{
    DeliveryOutcome, DeliveryRecord, NewWebhook, WebhookBacklog, WebhookEndpoint, WebhookScope,
};
pub use workspace::NewWorkspace;
pub use workspace_domain::{WorkspaceDomain, CLAIM_SECS};

use roster_domain::DomainError;

use crate::StoreError;

/// A stored value the domain refuses is a corrupt row (an internal error), not a client error.
pub(crate) fn corrupt(table: &'static str) -> impl Fn(DomainError) -> StoreError {
    move |err| StoreError::Corrupt(format!("{table}: {err}"))
}

/// JSON array text of strings, as `domains` columns store them.
pub(crate) fn to_json_list<T: AsRef<str>>(items: &[T]) -> String {
    serde_json::Value::Array(
        items
            .iter()
            .map(|item| serde_json::Value::String(item.as_ref().to_owned()))
            .collect(),
    )
    .to_string()
}

pub(crate) fn from_json_list(table: &'static str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|err| StoreError::Corrupt(format!("{table}: {err}")))
}
