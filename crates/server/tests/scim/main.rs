//! SCIM over real HTTP against a real database: the request sequences Entra ID (both PATCH
//! dialects) and Okta send, checked against the stored state after each step; plus groups,
//! pagination, errors and tenant isolation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/proxy.rs"]
mod proxy;
#[path = "../common/receiver.rs"]
mod receiver;

mod admin_api;
mod admin_apps;
mod admin_attributes;
mod admin_connections;
mod admin_console_api;
mod admin_directory;
mod admin_isolation;
mod admin_lockout;
mod admin_policy;
mod attribute_filters;
mod attribute_rules;
mod bulk;
mod entra;
mod errors;
mod events;
mod groups;
mod invitations;
mod list_params;
mod lists;
mod mapping;
mod metrics;
mod okta;
mod operator_api;
mod operator_apps;
mod operator_webhooks;
mod outage;
mod passwords;
mod replicas;
mod scim_attributes;
mod setup_links;
mod users;
mod webhooks;
