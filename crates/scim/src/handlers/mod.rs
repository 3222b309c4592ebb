//! HTTP handlers, one file per resource type. Each handler authenticates (the `ScimClient`
//! extractor), parses, calls one store operation on the blocking pool, and renders.

pub mod bulk;
pub mod discovery;
pub mod groups;
pub mod search;
pub mod users;
