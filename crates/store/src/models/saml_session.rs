//! The Roster sessions SAML logins made, by the IdP's NameID and SessionIndex (`saml_sessions`):
//! Single Logout in both directions. An IdP's `LogoutRequest` names a NameID (and maybe
//! SessionIndexes) of one connection, and every Roster session it matches ends; a Roster
//! sign-out tells the IdP which of its sessions to end. Rows are swept once the session would
//! have expired anyway.

use diesel::prelude::*;
use roster_domain::{ConnectionId, Timestamp};

use crate::schema::saml_sessions;
use crate::{Store, StoreResult};

/// A SAML login's session.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = saml_sessions, treat_none_as_default_value = false)]
pub struct SamlSession {
    pub session_id: String,
    pub connection_id: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    /// When the session expires (microseconds).
    pub expires_at: i64,
}

impl Store {
    /// Records the session a SAML login made (and sweeps expired rows).
    pub fn record_saml_session(&self, session: &SamlSession) -> StoreResult<()> {
        self.write(|conn| {
            let now = Timestamp::now().as_micros();
            diesel::delete(saml_sessions::table.filter(saml_sessions::expires_at.lt(now)))
                .execute(conn)?;
            diesel::insert_into(saml_sessions::table)
                .values(session)
                .execute(conn)?;
            Ok(())
        })
    }

    /// The SAML session of a Roster session, if a SAML login made it.
    pub fn saml_session(&self, session_id: &str) -> StoreResult<Option<SamlSession>> {
        self.read(|conn| {
            Ok(saml_sessions::table
                .filter(saml_sessions::session_id.eq(session_id))
                .select(SamlSession::as_select())
                .first(conn)
                .optional()?)
        })
    }

    /// The live sessions of `name_id` at `connection_id`: those of the `session_indexes` named,
    /// or all of them when none is named (SAML core §3.7.1).
    pub fn saml_sessions_of(
        &self,
        connection_id: ConnectionId,
        name_id: &str,
        session_indexes: &[String],
    ) -> StoreResult<Vec<SamlSession>> {
        let now = Timestamp::now().as_micros();
        let found: Vec<SamlSession> = self.read(|conn| {
            Ok(saml_sessions::table
                .filter(saml_sessions::connection_id.eq(connection_id.to_string()))
                .filter(saml_sessions::name_id.eq(name_id))
                .filter(saml_sessions::expires_at.ge(now))
                .select(SamlSession::as_select())
                .load(conn)?)
        })?;
        Ok(found
            .into_iter()
            .filter(|session| {
                session_indexes.is_empty()
                    || session
                        .session_index
                        .as_ref()
                        .is_some_and(|index| session_indexes.contains(index))
            })
            .collect())
    }
}
