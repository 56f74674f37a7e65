//! What tests that run the real binary or need a database of their own share: a migrated
//! scratch database dropped with its guard, unique names, and polling until a condition holds.

use std::time::Duration;

use sqlx::{Connection, PgPool};
use tokio::time::Instant;
use url::Url;
use uuid::Uuid;

const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// How long [`eventually`] waits.
pub const DEADLINE: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(100);

/// `prefix-` and 12 random hex digits: a queue, container or directory name of one test.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &Uuid::new_v4().simple().to_string()[..12])
}

/// Polls `check` until it yields a value or [`DEADLINE`] passes (then panics with `what`).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// A migrated database of its own (beside `DATABASE_URL`'s), for processes a test starts;
/// dropped, with its connections, when the guard goes.
pub struct ScratchDb {
    pub pool: PgPool,
    pub url: String,
    admin_url: String,
    name: String,
}

impl ScratchDb {
    pub async fn create() -> Self {
        let admin_url =
            std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
        let name = format!("azcops_scratch_{}", Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("PostgreSQL at DATABASE_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .execute(&mut admin)
            .await
            .expect("create database");
        let _ = admin.close().await;
        let mut url = Url::parse(&admin_url).expect("DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        let url = String::from(url);
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(10)
            .connect(&url)
            .await
            .expect("scratch database");
        azcops::db::MIGRATOR
            .run(&pool)
            .await
            .expect("migrations apply");
        Self {
            pool,
            url,
            admin_url,
            name,
        }
    }

    /// `sql` (one text parameter) as a count.
    pub async fn count(&self, sql: &'static str, text: &str) -> i64 {
        sqlx::query_scalar(sql)
            .bind(text)
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name);
        // The test's runtime may be gone or busy: drop from a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        })
        .join();
    }
}
