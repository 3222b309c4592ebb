//! `POST /.search` (RFC 7644 §3.4.3): one search over Users and Groups. A filter that names only
//! one type's attributes matches nothing of the other type. Results list Users first, then
//! Groups, each in its stable order; `startIndex`/`count` page over that sequence.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use roster_domain::query::Page;
use roster_store::Store;

use crate::auth::ScimClient;
use crate::body::json_body;
use crate::error::{ScimError, ScimType};
use crate::filter::parse_filter;
use crate::list::{list_response, ListParams, ListRequest};
use crate::ops::{render_group_with, Ctx};
use crate::respond::scim_json;
use crate::settings::ScimSettings;
use crate::translate::{Declared, GroupResource, Translate, UserResource};
use crate::user_resource::render_user;

/// The request for type `R`, or `None` when the filter names attributes `R` cannot be
/// filtered on (the filter is about the other type); any other error counts.
fn applicable<R: Translate>(
    params: &ListParams,
    settings: &ScimSettings,
    declared: &Declared<'_>,
) -> Result<Option<ListRequest<R::Attr>>, ScimError> {
    match params.parse::<R>(settings, declared) {
        Ok(request) => Ok(Some(request)),
        Err(err) => {
            let filter = params.filter.as_deref().map(parse_filter);
            match filter {
                Some(Ok(filter)) if !R::applies(&filter, declared) => Ok(None),
                _ => Err(err),
            }
        }
    }
}

fn page_of<A>(request: &ListRequest<A>) -> (i64, i64) {
    match &request.query.page {
        Page::Offset { offset, limit } => (*offset, *limit),
        Page::After { limit, .. } => (0, *limit),
    }
}

/// `POST /.search`.
pub async fn root_search(
    client: ScimClient,
    req: HttpRequest,
    payload: web::Payload,
    store: web::Data<Store>,
    settings: web::Data<ScimSettings>,
) -> Result<HttpResponse, ScimError> {
    let body = json_body(&req, payload, &settings).await?;
    let params = ListParams::from_search_body(&body)?;
    if params.cursor.is_some() {
        return Err(ScimError::new(
            400,
            Some(ScimType::InvalidCursor),
            "cursor pagination is not available on /.search; use /Users/.search or /Groups/.search",
        ));
    }
    let declared = Declared::new(&client.principal.connection.attributes);
    let users = applicable::<UserResource>(&params, &settings, &declared)?;
    let groups = applicable::<GroupResource>(&params, &settings, &Declared::none())?;
    let Some(reference) = users
        .as_ref()
        .map(|r| (r.start_index, page_of(r), r.projection.clone()))
        .or_else(|| {
            groups
                .as_ref()
                .map(|r| (r.start_index, page_of(r), r.projection.clone()))
        })
    else {
        return Err(ScimError::invalid_filter(
            "the filter applies to neither Users nor Groups",
        ));
    };
    let (start_index, (offset, limit), projection) = reference;
    let body = roster_store::blocking(move || {
        let ctx = Ctx {
            client: &client,
            store: &store,
            settings: &settings,
        };
        let scope = client.scope();
        let mut resources = Vec::new();
        let mut total = 0;
        let mut users_total = 0;
        if let Some(mut users) = users {
            users.query.page = Page::Offset { offset, limit };
            let listing = store.scim_list_users(scope, &users.query)?;
            users_total = listing.total;
            total += listing.total;
            for user in &listing.items {
                let mut resource = render_user(user, &settings.base_url, client.attributes());
                projection.apply(&mut resource);
                resources.push(resource);
            }
        }
        if let Some(mut groups) = groups {
            let remaining = limit - resources.len() as i64;
            groups.query.page = Page::Offset {
                offset: (offset - users_total).max(0),
                limit: remaining.max(0),
            };
            let listing = store.scim_list_groups(scope, &groups.query)?;
            total += listing.total;
            for group in &listing.items {
                resources.push(render_group_with(&ctx, group, &projection)?);
            }
        }
        let shape: ListRequest<()> = ListRequest {
            query: roster_domain::query::Query {
                filter: roster_domain::query::Filter::All,
                sort: None,
                page: Page::Offset { offset, limit },
            },
            start_index,
            cursor: false,
            projection,
        };
        Ok::<_, ScimError>(list_response(&shape, resources, None, total))
    })
    .await?;
    Ok(scim_json(StatusCode::OK, &body, None))
}
