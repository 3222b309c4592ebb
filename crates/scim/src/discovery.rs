//! SCIM discovery documents: `/ServiceProviderConfig`, `/Schemas` and `/ResourceTypes`
//! (RFC 7643 §5–§7, RFC 7644 §4, RFC 9865 `pagination`).
//!
//! IdPs read these documents to learn what Roster accepts. Entra needs `/Schemas` for gallery
//! apps, and it reads the advertised capabilities literally. So the documents are built from
//! [`Capabilities`] (what the server really does) and from the schema definitions below, which
//! hold Roster's product rules: `userName` and `emails` are immutable, group members are users
//! only, and user names and group display names are unique. The schemas are data, so small
//! builders describe them instead of hand-written JSON. No `null` ever goes out, because Entra
//! rejects nulls. A client that presents its token also sees the custom extension schemas its
//! workspace declares (issue #28); without one, the documents describe the server alone.

use roster_domain::attributes::{AttributeDefinition, AttributeKind};
use roster_store::AttributeMapping;
use serde_json::{json, Map, Value};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// What the server really supports; ServiceProviderConfig must be truthful.
#[derive(Debug, Clone)]
pub struct Capabilities {
    pub patch: bool,
    pub bulk: bool,
    pub bulk_max_operations: u32,
    pub max_payload_bytes: u64,
    pub filter: bool,
    pub filter_max_results: u32,
    pub sort: bool,
    pub etag: bool,
    pub change_password: bool,
    pub cursor_pagination: bool,
    pub default_page_size: u32,
    pub max_page_size: u32,
    pub cursor_timeout_secs: u32,
}

/// The `/ServiceProviderConfig` document (RFC 7643 §5, `pagination` from RFC 9865 §4).
///
/// `base_url` is the SCIM base, e.g. `https://roster.example.com/scim/v2` (no trailing slash).
pub fn service_provider_config(base_url: &str, caps: &Capabilities) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": { "supported": caps.patch },
        "bulk": {
            "supported": caps.bulk,
            "maxOperations": caps.bulk_max_operations,
            "maxPayloadSize": caps.max_payload_bytes,
        },
        "filter": { "supported": caps.filter, "maxResults": caps.filter_max_results },
        "changePassword": { "supported": caps.change_password },
        "sort": { "supported": caps.sort },
        "etag": { "supported": caps.etag },
        "pagination": {
            "cursor": caps.cursor_pagination,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": caps.default_page_size,
            "maxPageSize": caps.max_page_size,
            "cursorTimeout": caps.cursor_timeout_secs,
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a per-connection bearer token",
            "primary": true,
        }],
        "meta": meta("ServiceProviderConfig", format!("{base_url}/ServiceProviderConfig")),
    })
}

/// The Schema resources Roster serves: core User, the enterprise User extension, core Group, and
/// the custom extensions the workspace declares (`mappings`; none without a token).
pub fn schemas(base_url: &str, mappings: &[AttributeMapping]) -> Vec<Value> {
    let mut schemas = vec![
        schema_resource(
            base_url,
            USER_SCHEMA,
            "User",
            "User Account",
            user_attributes(),
        ),
        schema_resource(
            base_url,
            ENTERPRISE_USER_SCHEMA,
            "EnterpriseUser",
            "Enterprise User",
            enterprise_attributes(),
        ),
        schema_resource(base_url, GROUP_SCHEMA, "Group", "Group", group_attributes()),
    ];
    schemas.extend(extension_schemas(base_url, mappings));
    schemas
}

/// One Schema per custom extension the workspace declares, with its attributes typed as declared
/// (`number` is SCIM's `decimal`; a `string_list` a multi-valued string; a `user_ref` a complex
/// value naming a user by id).
fn extension_schemas(base_url: &str, mappings: &[AttributeMapping]) -> Vec<Value> {
    crate::attributes::declared_extensions(mappings)
        .into_iter()
        .map(|urn| {
            let attributes: Vec<Value> = mappings
                .iter()
                .filter(|m| {
                    m.definition
                        .scim_schema
                        .as_deref()
                        .is_some_and(|schema| schema.eq_ignore_ascii_case(urn))
                })
                .map(|m| extension_attribute(&m.definition))
                .collect();
            // `urn:acme:…:extension:hr:2.0:User` is called `hr`.
            let name = urn
                .rsplit(':')
                .find(|part| {
                    !part.is_empty()
                        && *part != "User"
                        && !part.chars().all(|c| c.is_ascii_digit() || c == '.')
                })
                .unwrap_or(urn);
            json!({
                "schemas": [SCHEMA_SCHEMA],
                "id": urn,
                "name": name,
                "description": "Custom attributes the workspace declares",
                "attributes": attributes,
                "meta": meta("Schema", format!("{base_url}/Schemas/{urn}")),
            })
        })
        .collect()
}

fn extension_attribute(definition: &AttributeDefinition) -> Value {
    let common = |ty: &str, multi: bool| {
        json!({
            "name": definition.name.as_str(),
            "type": ty,
            "multiValued": multi,
            "description": definition.label,
            "required": false,
            "mutability": "readWrite",
            "returned": "default",
            "uniqueness": "none",
        })
    };
    let mut attribute = match definition.kind {
        AttributeKind::String => common("string", false),
        AttributeKind::StringList => common("string", true),
        AttributeKind::Number => common("decimal", false),
        AttributeKind::Boolean => common("boolean", false),
        AttributeKind::UserRef => {
            let mut complex = common("complex", false);
            complex["subAttributes"] = json!([{
                "name": "value",
                "type": "string",
                "multiValued": false,
                "description": "The id of a user of the workspace.",
                "required": false,
                "caseExact": true,
                "mutability": "readWrite",
                "returned": "default",
                "uniqueness": "none",
            }]);
            complex
        }
    };
    if matches!(
        definition.kind,
        AttributeKind::String | AttributeKind::StringList
    ) {
        attribute["caseExact"] = json!(definition.case_exact);
    }
    attribute
}

/// The core User attributes whose schema says `returned: "never"` (today `password`): Roster
/// never stores, returns or exports them. Derived from the schema below, so a new such attribute
/// is covered where SCIM input is stored (`crate::user_resource`) without another list.
pub fn never_returned_user_attributes() -> &'static [&'static str] {
    static NEVER_RETURNED: std::sync::LazyLock<Vec<&'static str>> =
        std::sync::LazyLock::new(|| {
            user_attributes()
                .iter()
                .filter(|attr| attr.returned == NEVER)
                .map(|attr| attr.name)
                .collect()
        });
    &NEVER_RETURNED
}

/// One Schema resource by its URN. The match is exact.
pub fn schema(base_url: &str, id: &str, mappings: &[AttributeMapping]) -> Option<Value> {
    schemas(base_url, mappings)
        .into_iter()
        .find(|s| s.get("id").and_then(Value::as_str) == Some(id))
}

/// The ResourceType resources: User (with the optional enterprise extension and the workspace's
/// declared ones) and Group.
pub fn resource_types(base_url: &str, mappings: &[AttributeMapping]) -> Vec<Value> {
    let mut extensions = vec![json!({ "schema": ENTERPRISE_USER_SCHEMA, "required": false })];
    extensions.extend(
        crate::attributes::declared_extensions(mappings)
            .into_iter()
            .map(|urn| json!({ "schema": urn, "required": false })),
    );
    vec![
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": USER_SCHEMA,
            "schemaExtensions": extensions,
            "meta": meta("ResourceType", format!("{base_url}/ResourceTypes/User")),
        }),
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Group",
            "schema": GROUP_SCHEMA,
            "meta": meta("ResourceType", format!("{base_url}/ResourceTypes/Group")),
        }),
    ]
}

/// One ResourceType by its name (`"User"` or `"Group"`). The match is exact.
pub fn resource_type(base_url: &str, name: &str, mappings: &[AttributeMapping]) -> Option<Value> {
    resource_types(base_url, mappings)
        .into_iter()
        .find(|r| r.get("name").and_then(Value::as_str) == Some(name))
}

/// Wraps resources in a ListResponse (totalResults = itemsPerPage = len, startIndex 1).
pub fn list_response(resources: Vec<Value>) -> Value {
    let n = resources.len();
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": n,
        "itemsPerPage": n,
        "startIndex": 1,
        "Resources": resources,
    })
}

fn meta(resource_type: &str, location: String) -> Value {
    json!({ "resourceType": resource_type, "location": location })
}

fn schema_resource(
    base_url: &str,
    id: &str,
    name: &str,
    description: &str,
    attrs: Vec<Attr>,
) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attrs.iter().map(Attr::to_json).collect::<Vec<_>>(),
        "meta": meta("Schema", format!("{base_url}/Schemas/{id}")),
    })
}

// ---------------------------------------------------------------------------------------------
// Attribute definitions (RFC 7643 §7): builders with the RFC defaults, then the three schemas.
// ---------------------------------------------------------------------------------------------

const READ_ONLY: &str = "readOnly";
const IMMUTABLE: &str = "immutable";
const WRITE_ONLY: &str = "writeOnly";
const NEVER: &str = "never";
const SERVER: &str = "server";
const DISPLAY_DESC: &str = "A human-readable name, primarily used for display purposes.";
const TYPE_DESC: &str = "A label indicating the attribute's function.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Boolean,
    Binary,
    Reference(&'static [&'static str]),
    Complex,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Boolean => "boolean",
            Kind::Binary => "binary",
            Kind::Reference(_) => "reference",
            Kind::Complex => "complex",
        }
    }

    /// `caseExact` only means something for values compared as text.
    fn has_case(self) -> bool {
        matches!(self, Kind::String | Kind::Binary | Kind::Reference(_))
    }
}

/// One attribute definition. The builders start from the RFC defaults (single-valued, optional,
/// `caseExact` false, `readWrite`, returned `default`, uniqueness `none`).
#[derive(Debug, Clone)]
struct Attr {
    name: &'static str,
    kind: Kind,
    description: &'static str,
    multi_valued: bool,
    required: bool,
    case_exact: bool,
    canonical: &'static [&'static str],
    mutability: &'static str,
    returned: &'static str,
    uniqueness: &'static str,
    sub_attributes: Vec<Attr>,
}

fn attr(name: &'static str, kind: Kind, description: &'static str) -> Attr {
    Attr {
        name,
        kind,
        description,
        multi_valued: false,
        required: false,
        case_exact: false,
        canonical: &[],
        mutability: "readWrite",
        returned: "default",
        uniqueness: "none",
        sub_attributes: Vec::new(),
    }
}

fn string(name: &'static str, description: &'static str) -> Attr {
    attr(name, Kind::String, description)
}

fn boolean(name: &'static str, description: &'static str) -> Attr {
    attr(name, Kind::Boolean, description)
}

fn reference(
    name: &'static str,
    types: &'static [&'static str],
    description: &'static str,
) -> Attr {
    attr(name, Kind::Reference(types), description)
}

fn complex(name: &'static str, description: &'static str, sub_attributes: Vec<Attr>) -> Attr {
    Attr {
        sub_attributes,
        ..attr(name, Kind::Complex, description)
    }
}

/// The usual multi-valued shape (RFC 7643 §2.4): `value`, `display`, `type`, `primary`.
fn multi_valued(
    name: &'static str,
    description: &'static str,
    value: Attr,
    types: &'static [&'static str],
) -> Attr {
    complex(
        name,
        description,
        vec![
            value,
            string("display", DISPLAY_DESC),
            string("type", TYPE_DESC).canonical(types),
            primary(),
        ],
    )
    .multi()
}

fn primary() -> Attr {
    boolean(
        "primary",
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
    )
}

impl Attr {
    fn multi(self) -> Self {
        Attr {
            multi_valued: true,
            ..self
        }
    }

    fn required(self) -> Self {
        Attr {
            required: true,
            ..self
        }
    }

    fn case_exact(self) -> Self {
        Attr {
            case_exact: true,
            ..self
        }
    }

    fn canonical(self, canonical: &'static [&'static str]) -> Self {
        Attr { canonical, ..self }
    }

    /// Sets the mutability of the attribute and of all its sub-attributes.
    fn mutability(mut self, mutability: &'static str) -> Self {
        self.mutability = mutability;
        self.sub_attributes = self
            .sub_attributes
            .into_iter()
            .map(|a| a.mutability(mutability))
            .collect();
        self
    }

    fn returned(self, returned: &'static str) -> Self {
        Attr { returned, ..self }
    }

    fn uniqueness(self, uniqueness: &'static str) -> Self {
        Attr { uniqueness, ..self }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), self.name.into());
        m.insert("type".into(), self.kind.as_str().into());
        m.insert("multiValued".into(), self.multi_valued.into());
        m.insert("description".into(), self.description.into());
        m.insert("required".into(), self.required.into());
        if self.kind.has_case() {
            m.insert("caseExact".into(), self.case_exact.into());
        }
        if !self.canonical.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical));
        }
        if let Kind::Reference(types) = self.kind {
            m.insert("referenceTypes".into(), json!(types));
        }
        m.insert("mutability".into(), self.mutability.into());
        m.insert("returned".into(), self.returned.into());
        m.insert("uniqueness".into(), self.uniqueness.into());
        if !self.sub_attributes.is_empty() {
            let subs = self.sub_attributes.iter().map(Attr::to_json).collect();
            m.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(m)
    }
}

/// Simple single-valued string attributes with the RFC defaults, from (name, description).
fn strings(defs: &[(&'static str, &'static str)]) -> Vec<Attr> {
    defs.iter()
        .map(|&(name, desc)| string(name, desc))
        .collect()
}

/// Core User (RFC 7643 §4.1, §8.7.1) with Roster's rules: `userName` and `emails` are immutable,
/// and `groups` holds Groups only.
fn user_attributes() -> Vec<Attr> {
    let mut attrs =
        vec![
        string(
            "userName",
            "Unique identifier for the User, typically used to sign in. Unique in the workspace \
             in any letter case; set once at provisioning and never changed by SCIM.",
        )
        .required()
        .mutability(IMMUTABLE)
        .uniqueness(SERVER),
        complex(
            "name",
            "The components of the user's real name.",
            strings(&[
                ("formatted", "The full name, formatted for display."),
                ("familyName", "The family name (last name in most Western languages)."),
                ("givenName", "The given name (first name in most Western languages)."),
                ("middleName", "The middle name(s)."),
                ("honorificPrefix", "The honorific prefix(es), e.g. 'Ms.'."),
                ("honorificSuffix", "The honorific suffix(es), e.g. 'III'."),
            ]),
        ),
    ];
    attrs.extend(strings(&[
        (
            "displayName",
            "The name of the User, suitable for display to end-users.",
        ),
        (
            "nickName",
            "The casual way to address the user in real life.",
        ),
    ]));
    attrs.push(reference(
        "profileUrl",
        &["external"],
        "A fully qualified URL of a page representing the User's online profile.",
    ));
    attrs.extend(strings(&[
        ("title", "The user's title, such as 'Vice President'."),
        (
            "userType",
            "The relationship of the user to the organization, e.g. 'Employee'.",
        ),
        (
            "preferredLanguage",
            "The preferred language (HTTP Accept-Language format).",
        ),
        (
            "locale",
            "The default location for localizing dates and numbers, e.g. 'en-US'.",
        ),
        (
            "timezone",
            "The time zone in IANA format, e.g. 'America/Los_Angeles'.",
        ),
    ]));
    attrs.extend([
        // Roster always has an administrative status (absent on create means true; absent or
        // removed on update keeps the current one), so it is required here: it cannot be unset.
        boolean(
            "active",
            "The administrative status; false deactivates without deleting.",
        )
        .required(),
        string(
            "password",
            "Accepted and ignored: users sign in through single sign-on, so Roster never stores, \
             returns or exports a SCIM password.",
        )
        .mutability(WRITE_ONLY)
        .returned(NEVER),
        multi_valued(
            "emails",
            "Email addresses; set once at provisioning and never changed by SCIM.",
            string(
                "value",
                "Email address, canonicalized according to RFC 5321.",
            ),
            &["work", "home", "other"],
        )
        .mutability(IMMUTABLE),
        multi_valued(
            "phoneNumbers",
            "Phone numbers for the User.",
            string(
                "value",
                "Phone number, canonicalized according to RFC 3966.",
            ),
            &["work", "home", "mobile", "fax", "pager", "other"],
        ),
        multi_valued(
            "ims",
            "Instant messaging addresses for the User.",
            string("value", "Instant messaging address."),
            &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
        ),
        multi_valued(
            "photos",
            "URLs of photos of the User.",
            reference("value", &["external"], "URL of a photo of the User."),
            &["photo", "thumbnail"],
        ),
        complex("addresses", "Physical mailing addresses for the User.", {
            let mut subs = strings(&[
                (
                    "formatted",
                    "The full mailing address, formatted for display.",
                ),
                ("streetAddress", "The full street address component."),
                ("locality", "The city or locality component."),
                ("region", "The state or region component."),
                ("postalCode", "The zip code or postal code component."),
                (
                    "country",
                    "The country name component (ISO 3166-1 alpha-2).",
                ),
            ]);
            subs.push(string("type", TYPE_DESC).canonical(&["work", "home", "other"]));
            subs.push(primary());
            subs
        })
        .multi(),
        complex(
            "groups",
            "The Groups the user belongs to; changed through the Group resource only.",
            vec![
                string("value", "The id of the Group."),
                reference("$ref", &["Group"], "The URI of the Group."),
                string("display", DISPLAY_DESC),
                string("type", "How the membership is derived.").canonical(&["direct", "indirect"]),
            ],
        )
        .multi()
        .mutability(READ_ONLY),
        multi_valued(
            "entitlements",
            "Entitlements of the User: things the User has.",
            string("value", "The value of an entitlement."),
            &[],
        ),
        multi_valued(
            "roles",
            "Roles of the User: who the User is, e.g. 'Student', 'Faculty'.",
            string("value", "The value of a role."),
            &[],
        ),
        multi_valued(
            "x509Certificates",
            "Certificates issued to the User.",
            attr("value", Kind::Binary, "An X.509 certificate (DER, base64).").case_exact(),
            &[],
        ),
    ]);
    attrs
}

/// Enterprise User extension (RFC 7643 §4.3, §8.7.2).
fn enterprise_attributes() -> Vec<Attr> {
    let mut attrs = strings(&[
        (
            "employeeNumber",
            "Identifier of the person, typically based on order of hire.",
        ),
        ("costCenter", "Identifies the name of a cost center."),
        ("organization", "Identifies the name of an organization."),
        ("division", "Identifies the name of a division."),
        ("department", "Identifies the name of a department."),
    ]);
    attrs.push(complex(
        "manager",
        "The User's manager.",
        vec![
            string("value", "The id of the User's manager."),
            reference("$ref", &["User"], "The URI of the User's manager."),
            string("displayName", "The displayName of the manager.").mutability(READ_ONLY),
        ],
    ));
    attrs
}

/// Core Group (RFC 7643 §4.2, §8.7.1) with Roster's rules: `displayName` is required and unique
/// (per connection), and members are Users (groups do not nest).
fn group_attributes() -> Vec<Attr> {
    vec![
        string(
            "displayName",
            "A human-readable name for the Group, unique among the connection's groups.",
        )
        .required()
        .uniqueness(SERVER),
        complex(
            "members",
            "The members of the Group.",
            vec![
                string("value", "The id of the member.").mutability(IMMUTABLE),
                reference("$ref", &["User"], "The URI of the member.").mutability(IMMUTABLE),
                string("display", DISPLAY_DESC).mutability(READ_ONLY),
                string("type", "The type of the member.")
                    .canonical(&["User"])
                    .mutability(IMMUTABLE),
            ],
        )
        .multi(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://roster.example.com/scim/v2";

    fn caps() -> Capabilities {
        Capabilities {
            patch: true,
            bulk: false,
            bulk_max_operations: 0,
            max_payload_bytes: 1_048_576,
            filter: true,
            filter_max_results: 200,
            sort: false,
            etag: false,
            change_password: false,
            cursor_pagination: false,
            default_page_size: 100,
            max_page_size: 200,
            cursor_timeout_secs: 600,
        }
    }

    fn at<'a>(doc: &'a Value, pointer: &str) -> &'a Value {
        doc.pointer(pointer)
            .unwrap_or_else(|| panic!("missing {pointer} in {doc}"))
    }

    /// A workspace's declared extension: one attribute of every kind.
    fn declared() -> Vec<AttributeMapping> {
        use roster_domain::attributes::MappingOrigin;
        [
            ("badge", AttributeKind::String),
            ("costCenterCode", AttributeKind::Number),
            ("remote", AttributeKind::Boolean),
            ("skills", AttributeKind::StringList),
            ("buddy", AttributeKind::UserRef),
        ]
        .into_iter()
        .map(|(name, kind)| {
            let mut definition = roster_domain::testing::attribute(name, kind);
            definition.label = format!("The {name}");
            definition.scim_schema = Some(EXTENSION.to_owned());
            AttributeMapping {
                definition,
                sources: vec![format!("{EXTENSION}:{name}")],
                origin: MappingOrigin::Extension,
            }
        })
        .collect()
    }

    const EXTENSION: &str = "urn:acme:params:scim:schemas:extension:hr:2.0:User";

    /// Every document the module serves (with a declared extension), labelled for failures.
    fn all_documents() -> Vec<(String, Value)> {
        let declared = declared();
        let mut docs = vec![("spc".to_string(), service_provider_config(BASE, &caps()))];
        for s in schemas(BASE, &declared) {
            docs.push((format!("schema {}", s["id"]), s));
        }
        for r in resource_types(BASE, &declared) {
            docs.push((format!("resource type {}", r["id"]), r));
        }
        docs.push((
            "schemas list".into(),
            list_response(schemas(BASE, &declared)),
        ));
        docs
    }

    #[test]
    fn a_declared_extension_is_described_and_listed_on_users() {
        let declared = declared();
        assert_eq!(schemas(BASE, &[]).len(), 3);
        let extension = schema(BASE, EXTENSION, &declared).expect("the extension's schema");
        assert_eq!(extension["name"], "hr");
        let kinds: Vec<(&str, &str, bool)> = extension["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().unwrap(),
                    a["type"].as_str().unwrap(),
                    a["multiValued"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("badge", "string", false),
                ("costCenterCode", "decimal", false),
                ("remote", "boolean", false),
                ("skills", "string", true),
                ("buddy", "complex", false),
            ]
        );
        let user = resource_type(BASE, "User", &declared).unwrap();
        assert_eq!(
            user["schemaExtensions"],
            json!([
                { "schema": ENTERPRISE_USER_SCHEMA, "required": false },
                { "schema": EXTENSION, "required": false },
            ])
        );
        assert_eq!(
            resource_type(BASE, "User", &[]).unwrap()["schemaExtensions"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    /// Every attribute definition of every schema (sub-attributes included), with its path.
    fn all_attributes() -> Vec<(String, Value)> {
        fn walk(prefix: &str, attrs: &Value, out: &mut Vec<(String, Value)>) {
            for a in attrs.as_array().into_iter().flatten() {
                let path = format!("{prefix}{}", a["name"].as_str().unwrap_or("?"));
                if let Some(subs) = a.get("subAttributes") {
                    walk(&format!("{path}."), subs, out);
                }
                out.push((path, a.clone()));
            }
        }
        let mut out = Vec::new();
        for s in schemas(BASE, &declared()) {
            walk(
                &format!("{}:", s["id"].as_str().unwrap_or("?")),
                &s["attributes"],
                &mut out,
            );
        }
        out
    }

    fn find_attr(path: &str) -> Value {
        all_attributes()
            .into_iter()
            .find(|(p, _)| p == path)
            .map(|(_, a)| a)
            .unwrap_or_else(|| panic!("no attribute {path}"))
    }

    #[test]
    fn service_provider_config_reflects_every_capability() {
        type Flip = fn(&mut Capabilities);
        let cases: &[(&str, Flip, &str, Value)] = &[
            (
                "patch",
                |c| c.patch = false,
                "/patch/supported",
                json!(false),
            ),
            ("bulk", |c| c.bulk = true, "/bulk/supported", json!(true)),
            (
                "bulk max ops",
                |c| c.bulk_max_operations = 42,
                "/bulk/maxOperations",
                json!(42),
            ),
            (
                "payload",
                |c| c.max_payload_bytes = 7,
                "/bulk/maxPayloadSize",
                json!(7),
            ),
            (
                "filter",
                |c| c.filter = false,
                "/filter/supported",
                json!(false),
            ),
            (
                "filter max",
                |c| c.filter_max_results = 9,
                "/filter/maxResults",
                json!(9),
            ),
            ("sort", |c| c.sort = true, "/sort/supported", json!(true)),
            ("etag", |c| c.etag = true, "/etag/supported", json!(true)),
            (
                "password",
                |c| c.change_password = true,
                "/changePassword/supported",
                json!(true),
            ),
            (
                "cursor",
                |c| c.cursor_pagination = true,
                "/pagination/cursor",
                json!(true),
            ),
            (
                "default size",
                |c| c.default_page_size = 3,
                "/pagination/defaultPageSize",
                json!(3),
            ),
            (
                "max size",
                |c| c.max_page_size = 4,
                "/pagination/maxPageSize",
                json!(4),
            ),
            (
                "timeout",
                |c| c.cursor_timeout_secs = 5,
                "/pagination/cursorTimeout",
                json!(5),
            ),
        ];
        for (name, flip, pointer, want) in cases {
            let before = service_provider_config(BASE, &caps());
            let mut c = caps();
            flip(&mut c);
            let after = service_provider_config(BASE, &c);
            assert_eq!(at(&after, pointer), want, "{name}");
            assert_ne!(
                at(&before, pointer),
                want,
                "{name}: the flip must change the value"
            );
        }
    }

    #[test]
    fn service_provider_config_fixed_parts() {
        let spc = service_provider_config(BASE, &caps());
        let cases: &[(&str, Value)] = &[
            ("/schemas/0", json!(SERVICE_PROVIDER_CONFIG_SCHEMA)),
            ("/pagination/index", json!(true)),
            ("/pagination/defaultPaginationMethod", json!("index")),
            ("/authenticationSchemes/0/type", json!("oauthbearertoken")),
            ("/authenticationSchemes/0/name", json!("OAuth Bearer Token")),
            ("/authenticationSchemes/0/primary", json!(true)),
            ("/meta/resourceType", json!("ServiceProviderConfig")),
            (
                "/meta/location",
                json!(format!("{BASE}/ServiceProviderConfig")),
            ),
        ];
        for (pointer, want) in cases {
            assert_eq!(at(&spc, pointer), want, "{pointer}");
        }
        assert_eq!(
            spc["authenticationSchemes"].as_array().map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn no_document_contains_null() {
        fn nulls(path: &str, v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Null => out.push(path.to_string()),
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        nulls(&format!("{path}/{i}"), item, out);
                    }
                }
                Value::Object(m) => {
                    for (k, item) in m {
                        nulls(&format!("{path}/{k}"), item, out);
                    }
                }
                _ => {}
            }
        }
        for (label, doc) in all_documents() {
            let mut found = Vec::new();
            nulls("", &doc, &mut found);
            assert!(found.is_empty(), "{label}: nulls at {found:?}");
        }
    }

    #[test]
    fn every_attribute_is_fully_described() {
        let attrs = all_attributes();
        assert!(attrs.len() > 80, "only {} attributes", attrs.len());
        for (path, a) in attrs {
            let ty = a["type"].as_str().unwrap_or_default();
            let mut keys = vec!["name", "type", "multiValued", "description", "required"];
            keys.extend(["mutability", "returned", "uniqueness"]);
            if matches!(ty, "string" | "reference" | "binary") {
                keys.push("caseExact");
            }
            for key in keys {
                assert!(a.get(key).is_some(), "{path} lacks {key}");
            }
            let cases: &[(&str, bool)] = &[
                ("subAttributes", ty == "complex"),
                ("referenceTypes", ty == "reference"),
            ];
            for (key, want) in cases {
                assert_eq!(a.get(*key).is_some(), *want, "{path}: {key}");
            }
            let mutability = a["mutability"].as_str().unwrap_or_default();
            assert!(
                ["readOnly", "readWrite", "immutable", "writeOnly"].contains(&mutability),
                "{path}: {mutability}"
            );
        }
    }

    #[test]
    fn schemas_cover_the_rfc_attributes() {
        let user = [
            "userName",
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "password",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "groups",
            "entitlements",
            "roles",
            "x509Certificates",
        ];
        let enterprise = [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
            "manager",
        ];
        let cases: &[(&str, &[&str])] = &[
            (USER_SCHEMA, &user),
            (ENTERPRISE_USER_SCHEMA, &enterprise),
            (GROUP_SCHEMA, &["displayName", "members"]),
        ];
        for (id, want) in cases {
            let s = schema(BASE, id, &[]).unwrap_or_else(|| panic!("{id}"));
            let names: Vec<&str> = s["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a["name"].as_str())
                .collect();
            assert_eq!(&names, want, "{id}");
            assert_eq!(s["schemas"], json!([SCHEMA_SCHEMA]), "{id}");
            assert_eq!(s["meta"]["resourceType"], "Schema", "{id}");
            assert_eq!(
                s["meta"]["location"],
                format!("{BASE}/Schemas/{id}"),
                "{id}"
            );
        }
    }

    #[test]
    fn never_returned_attributes_are_the_ones_the_store_never_stores() {
        let served = schema(BASE, USER_SCHEMA, &[]).unwrap_or_default();
        let never: Vec<&str> = served["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["returned"] == "never")
            .filter_map(|a| a["name"].as_str())
            .collect();
        assert_eq!(never, ["password"]);
        assert_eq!(never_returned_user_attributes(), never.as_slice());
        // The store keeps its own copy for exports and the scrub migration: it must not drift.
        assert_eq!(
            never_returned_user_attributes(),
            roster_store::NEVER_STORED_USER_ATTRIBUTES
        );
    }

    #[test]
    fn product_rules_and_rfc_details() {
        let cases: &[(&str, &str, Value)] = &[
            ("User:userName", "mutability", json!("immutable")),
            ("User:userName", "uniqueness", json!("server")),
            ("User:userName", "caseExact", json!(false)),
            ("User:userName", "required", json!(true)),
            ("User:emails", "mutability", json!("immutable")),
            ("User:emails.value", "mutability", json!("immutable")),
            (
                "User:emails.type",
                "canonicalValues",
                json!(["work", "home", "other"]),
            ),
            ("User:password", "mutability", json!("writeOnly")),
            ("User:password", "returned", json!("never")),
            ("User:groups", "mutability", json!("readOnly")),
            ("User:groups.$ref", "mutability", json!("readOnly")),
            ("User:profileUrl", "referenceTypes", json!(["external"])),
            ("User:name.givenName", "mutability", json!("readWrite")),
            ("User:active", "type", json!("boolean")),
            ("User:x509Certificates.value", "type", json!("binary")),
            (
                "enterprise:2.0:User:manager.$ref",
                "referenceTypes",
                json!(["User"]),
            ),
            (
                "enterprise:2.0:User:manager.displayName",
                "mutability",
                json!("readOnly"),
            ),
            ("Group:displayName", "required", json!(true)),
            ("Group:members", "multiValued", json!(true)),
            ("Group:members.value", "mutability", json!("immutable")),
        ];
        for (suffix, key, want) in cases {
            let (path, a) = all_attributes()
                .into_iter()
                .find(|(p, _)| p.ends_with(&format!(":{suffix}")))
                .unwrap_or_else(|| panic!("no attribute {suffix}"));
            assert_eq!(&a[*key], want, "{path}.{key}");
        }
        // Common attributes (RFC 7643 §3.1) are not declared in the schemas.
        for common in ["id", "externalId", "meta"] {
            assert!(
                all_attributes()
                    .iter()
                    .all(|(p, _)| !p.ends_with(&format!(":{common}"))),
                "{common} is a common attribute"
            );
        }
        assert_eq!(
            find_attr(&format!("{USER_SCHEMA}:emails"))["type"],
            "complex"
        );
    }

    #[test]
    fn lookups_by_id_and_name() {
        let cases: &[(&str, Option<&str>)] = &[
            (USER_SCHEMA, Some("User")),
            (ENTERPRISE_USER_SCHEMA, Some("EnterpriseUser")),
            (GROUP_SCHEMA, Some("Group")),
            ("nope", None),
            ("urn:ietf:params:scim:schemas:core:2.0:user", None),
        ];
        for (id, want) in cases {
            let got = schema(BASE, id, &[]);
            assert_eq!(got.as_ref().and_then(|s| s["name"].as_str()), *want, "{id}");
        }
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("User", Some(("/Users", USER_SCHEMA))),
            ("Group", Some(("/Groups", GROUP_SCHEMA))),
            ("Role", None),
        ];
        for (name, want) in cases {
            let got = resource_type(BASE, name, &[]);
            let got = got
                .as_ref()
                .and_then(|r| Some((r["endpoint"].as_str()?, r["schema"].as_str()?)));
            assert_eq!(got, *want, "{name}");
        }
    }

    #[test]
    fn resource_types_shape() {
        let user = resource_type(BASE, "User", &[]).unwrap_or_default();
        assert_eq!(user["schemas"], json!([RESOURCE_TYPE_SCHEMA]));
        assert_eq!(
            user["schemaExtensions"],
            json!([{ "schema": ENTERPRISE_USER_SCHEMA, "required": false }])
        );
        assert_eq!(
            user["meta"],
            json!({
                "resourceType": "ResourceType",
                "location": format!("{BASE}/ResourceTypes/User"),
            })
        );
        let group = resource_type(BASE, "Group", &[]).unwrap_or_default();
        assert_eq!(
            group["meta"]["location"],
            format!("{BASE}/ResourceTypes/Group")
        );
        assert_eq!(group.get("schemaExtensions"), None);
    }

    #[test]
    fn list_response_shape() {
        let cases: &[(Vec<Value>, usize)] = &[
            (vec![], 0),
            (vec![json!({"id": "a"})], 1),
            (resource_types(BASE, &[]), 2),
        ];
        for (resources, n) in cases {
            let got = list_response(resources.clone());
            let want = json!({
                "schemas": [LIST_RESPONSE_SCHEMA],
                "totalResults": n,
                "itemsPerPage": n,
                "startIndex": 1,
                "Resources": resources,
            });
            assert_eq!(got, want);
        }
    }
}
