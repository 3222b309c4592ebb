//! Registering products with the provider: the rules an app must meet and the use cases
//! (register, rotate a secret, delete), written once for the `roster app` commands and the operator
//! API (`/api/v1/operator/apps`); each surface renders the answer in its own shape (the CLI's
//! snake_case views are here, the API's camelCase ones in `roster-admin`).
//!
//! The store keeps what it is given; the decisions are here: every URI passes
//! [`redirect_uri::check_registrable`](crate::redirect_uri::check_registrable), a name and at
//! least one redirect URI are required, no URI is listed twice, and a rotated secret stays valid
//! for [`PREVIOUS_SECRET_GRACE_SECONDS`] so a product can roll out the new one without downtime.

use roster_store::domain::{Actor, SecretToken, Timestamp};
use roster_store::{ClientAuthMethod, NewOAuthApp, OAuthApp, SigningAlg, Store};
use serde::{Serialize, Serializer};

use crate::redirect_uri::check_registrable;
use crate::ProviderError;

/// How long the secret a rotation replaces keeps working: a day, time enough for a product to
/// deploy the new secret everywhere. After a leak, end it at once instead.
pub const PREVIOUS_SECRET_GRACE_SECONDS: i64 = 24 * 3600;

/// The longest app name.
const MAX_NAME_LENGTH: usize = 200;

/// What an operator asks for when registering an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRegistration {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// A public app (SPA, native) has no secret and must use PKCE.
    pub public: bool,
    pub id_token_alg: SigningAlg,
}

impl AppRegistration {
    /// The registration as the store takes it, once every rule holds.
    fn validate(&self) -> Result<NewOAuthApp, ProviderError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_LENGTH {
            return Err(ProviderError::InvalidClientMetadata(format!(
                "the name must have 1 to {MAX_NAME_LENGTH} characters"
            )));
        }
        if self.redirect_uris.is_empty() {
            return Err(ProviderError::InvalidClientMetadata(
                "at least one redirect URI is required".to_owned(),
            ));
        }
        for list in [&self.redirect_uris, &self.post_logout_redirect_uris] {
            for (index, uri) in list.iter().enumerate() {
                check_registrable(uri).map_err(|reason| ProviderError::InvalidRedirectUri {
                    uri: uri.clone(),
                    reason,
                })?;
                if list[..index].contains(uri) {
                    return Err(ProviderError::InvalidClientMetadata(format!(
                        "{uri:?} is listed twice"
                    )));
                }
            }
        }
        if let Some(uri) = &self.backchannel_logout_uri {
            check_registrable(uri).map_err(|reason| ProviderError::InvalidRedirectUri {
                uri: uri.clone(),
                reason,
            })?;
        }
        Ok(NewOAuthApp {
            name: name.to_owned(),
            auth_method: if self.public {
                ClientAuthMethod::None
            } else {
                ClientAuthMethod::ClientSecretBasic
            },
            id_token_alg: self.id_token_alg,
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
        })
    }
}

/// An app as `roster app create` prints it (the keys of the contract), and the core of what
/// `list` and `show` print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppView {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub token_endpoint_auth_method: &'static str,
    pub id_token_alg: &'static str,
}

impl From<&OAuthApp> for AppView {
    fn from(app: &OAuthApp) -> Self {
        Self {
            client_id: app.client_id.clone(),
            name: app.name.clone(),
            redirect_uris: app.redirect_uris.clone(),
            post_logout_redirect_uris: app.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: app.backchannel_logout_uri.clone(),
            token_endpoint_auth_method: app.auth_method.as_str(),
            id_token_alg: app.id_token_alg.as_str(),
        }
    }
}

/// An app as `list` and `show` print it: never the secret, only a hint of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppDetails {
    #[serde(flatten)]
    pub app: AppView,
    /// The first characters of the current secret (`null` for a public app).
    pub client_secret_hint: Option<String>,
    /// Until when the secret replaced by the last rotation still works (RFC 3339), if it does.
    pub previous_secret_valid_until: Option<String>,
    pub created_at: String,
}

impl AppDetails {
    pub fn at(app: &OAuthApp, now: Timestamp) -> Self {
        Self {
            app: AppView::from(app),
            client_secret_hint: app.secret_hint.clone(),
            previous_secret_valid_until: app
                .previous_secret_until
                .filter(|until| *until > now)
                .map(|until| until.to_rfc3339()),
            created_at: app.created_at.to_rfc3339(),
        }
    }
}

/// A new app with its secret, shown this once (absent for a public app).
#[derive(Debug, Serialize)]
pub struct CreatedApp {
    #[serde(flatten)]
    pub app: AppView,
    #[serde(
        serialize_with = "expose_secret",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_secret: Option<SecretToken>,
}

impl From<RegisteredApp> for CreatedApp {
    fn from(registered: RegisteredApp) -> Self {
        CreatedApp {
            app: AppView::from(&registered.app),
            client_secret: registered.client_secret,
        }
    }
}

/// What [`register`] made: the app as stored, and its secret in plaintext this once (`None` for
/// a public app).
#[derive(Debug)]
pub struct RegisteredApp {
    pub app: OAuthApp,
    pub client_secret: Option<SecretToken>,
}

/// A rotated secret, shown this once.
#[derive(Debug, Serialize)]
pub struct RotatedSecret {
    pub client_id: String,
    #[serde(serialize_with = "expose_secret")]
    pub client_secret: Option<SecretToken>,
    /// Until when the previous secret still works (RFC 3339).
    pub previous_secret_valid_until: String,
}

/// A deleted app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletedApp {
    pub deleted: String,
    pub name: String,
    /// Grants (signed-in users) that ended with it.
    pub live_grants_ended: i64,
}

/// The one place a secret becomes output text.
fn expose_secret<S: Serializer>(
    secret: &Option<SecretToken>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => serializer.serialize_str(secret.expose()),
        None => serializer.serialize_none(),
    }
}

/// Registers an app once every rule holds (nothing is written otherwise); its secret (for a
/// confidential app) is in the answer and nowhere else.
pub fn register(
    store: &Store,
    actor: &Actor,
    registration: &AppRegistration,
    now: Timestamp,
) -> Result<RegisteredApp, ProviderError> {
    let new_app = registration.validate()?;
    let (app, client_secret) = store.create_oauth_app(actor, &new_app, now)?;
    Ok(RegisteredApp { app, client_secret })
}

/// Gives a confidential app a new secret; the previous one keeps working for
/// [`PREVIOUS_SECRET_GRACE_SECONDS`], or stops at once with `end_previous_now` (after a leak).
pub fn rotate_secret(
    store: &Store,
    actor: &Actor,
    client_id: &str,
    now: Timestamp,
    end_previous_now: bool,
) -> Result<RotatedSecret, ProviderError> {
    let until = if end_previous_now {
        now
    } else {
        now.plus_seconds(PREVIOUS_SECRET_GRACE_SECONDS)
    };
    let (app, secret) = store.rotate_oauth_app_secret(actor, client_id, now, until)?;
    Ok(RotatedSecret {
        client_id: app.client_id,
        client_secret: Some(secret),
        previous_secret_valid_until: until.to_rfc3339(),
    })
}

/// Deletes an app and everything issued to it.
pub fn delete(store: &Store, actor: &Actor, client_id: &str) -> Result<DeletedApp, ProviderError> {
    let deleted = store.delete_oauth_app(actor, client_id)?;
    Ok(DeletedApp {
        deleted: deleted.client_id,
        name: deleted.name,
        live_grants_ended: deleted.live_grants,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn registration() -> AppRegistration {
        AppRegistration {
            name: "  Product ".to_owned(),
            redirect_uris: vec!["https://app.example/cb".to_owned()],
            post_logout_redirect_uris: vec!["https://app.example/bye".to_owned()],
            backchannel_logout_uri: Some("https://app.example/bcl".to_owned()),
            public: false,
            id_token_alg: SigningAlg::Rs256,
        }
    }

    fn refusal(change: impl FnOnce(&mut AppRegistration)) -> String {
        let mut registration = registration();
        change(&mut registration);
        match registration.validate() {
            Ok(app) => panic!("accepted: {app:?}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn registrations_are_checked_before_anything_is_written() {
        let valid = registration().validate().unwrap();
        assert_eq!(valid.name, "Product");
        assert_eq!(valid.auth_method, ClientAuthMethod::ClientSecretBasic);
        let public = AppRegistration {
            public: true,
            ..registration()
        };
        assert_eq!(
            public.validate().unwrap().auth_method,
            ClientAuthMethod::None
        );

        for (change, expected) in [
            (
                (|r: &mut AppRegistration| r.name = " ".to_owned()) as fn(&mut AppRegistration),
                "the name must have 1 to 200 characters",
            ),
            (|r| r.name = "x".repeat(201), "the name must have 1 to 200"),
            (
                |r| r.redirect_uris.clear(),
                "at least one redirect URI is required",
            ),
            (
                |r| r.redirect_uris.push("https://app.example/cb".to_owned()),
                "\"https://app.example/cb\" is listed twice",
            ),
            (
                |r| r.redirect_uris.push("JavaScript:alert(1)".to_owned()),
                "invalid URI \"JavaScript:alert(1)\": javascript:",
            ),
            (
                |r| {
                    r.post_logout_redirect_uris
                        .push("https://evil@app.example/".to_owned())
                },
                "must not have a user name",
            ),
            (
                |r| r.backchannel_logout_uri = Some("https://app.example/bcl#x".to_owned()),
                "must not have a fragment",
            ),
        ] {
            let message = refusal(change);
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }

    #[test]
    fn the_secret_appears_in_the_creation_output_and_is_redacted_elsewhere() {
        let secret = SecretToken::from_presented("rscs_example");
        let app = AppView {
            client_id: "client".to_owned(),
            name: "Product".to_owned(),
            redirect_uris: vec!["https://app.example/cb".to_owned()],
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            token_endpoint_auth_method: "client_secret_basic",
            id_token_alg: "RS256",
        };
        let created = CreatedApp {
            app: app.clone(),
            client_secret: Some(secret),
        };
        let json = serde_json::to_value(&created).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "client_id": "client",
                "client_secret": "rscs_example",
                "name": "Product",
                "redirect_uris": ["https://app.example/cb"],
                "post_logout_redirect_uris": [],
                "backchannel_logout_uri": null,
                "token_endpoint_auth_method": "client_secret_basic",
                "id_token_alg": "RS256",
            })
        );
        assert!(!format!("{created:?}").contains("rscs_example"));
        let public = CreatedApp {
            app,
            client_secret: None,
        };
        assert!(serde_json::to_value(&public)
            .unwrap()
            .get("client_secret")
            .is_none());
    }
}
