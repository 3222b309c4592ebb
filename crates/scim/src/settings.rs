//! Limits and URLs of the SCIM service, set by the server from its configuration.

/// SCIM settings shared by every handler (as actix app data).
#[derive(Debug, Clone)]
pub struct ScimSettings {
    /// The SCIM base URL as IdPs see it, e.g. `https://roster.example.com/scim/v2`.
    pub base_url: String,
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// Page size when the client asks for none.
    pub default_page_size: i64,
    /// Largest page served (a larger `count` is lowered to it).
    pub max_page_size: i64,
    /// Most operations in one PATCH.
    pub max_patch_operations: usize,
    /// Most operations in one Bulk request.
    pub max_bulk_operations: usize,
    /// Longest `filter` accepted.
    pub max_filter_length: usize,
}
