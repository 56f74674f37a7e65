//! The check that a deployed app is not logged in as the schema's owner: in Azure the pool is
//! only handed out once its login is found to own no table, be no superuser, not bypass
//! row-level security and be able to become `azcops_app`; otherwise every use of the database
//! fails with a message saying how to set up the runtime login (README, "Deployment"), and the
//! check is repeated on the next use. Locally (migrations on start, a superuser URL) nothing is
//! checked.

use sqlx::PgConnection;

/// What is wrong with the current login for serving, if anything.
pub async fn problem(conn: &mut PgConnection) -> Result<Option<String>, sqlx::Error> {
    let row: (String, bool, bool, bool) = sqlx::query_as(
        "SELECT r.rolname::text, r.rolsuper OR r.rolbypassrls, \
                EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid \
                        AND c.relnamespace = 'public'::regnamespace), \
                pg_has_role(r.oid, 'azcops_app', 'MEMBER') \
         FROM pg_roles r WHERE r.rolname = current_user",
    )
    .fetch_one(conn)
    .await?;
    let (login, privileged, owner, member) = row;
    Ok(if privileged {
        Some(format!(
            "the database login `{login}` is a superuser or bypasses row-level security"
        ))
    } else if owner {
        Some(format!(
            "the database login `{login}` owns the schema's tables"
        ))
    } else if !member {
        Some(format!(
            "the database login `{login}` cannot become azcops_app (not a member of azcops_runtime)"
        ))
    } else {
        None
    })
}

/// Fails, saying what to do, when [`problem`] finds one.
pub async fn check(conn: &mut PgConnection) -> anyhow::Result<()> {
    match problem(conn).await? {
        None => Ok(()),
        Some(problem) => Err(anyhow::anyhow!(
            "{problem}: in Azure the app must log in as a runtime login that owns nothing \
             (GRANT azcops_runtime TO <login>; migrations run as the owner with `azcops \
             migrate`), see README \"Deployment\""
        )),
    }
}
