//! Entra ID authentication to Azure Database for PostgreSQL (flexible server): the password is
//! an access token for [`SCOPE`], obtained with the app's managed identity.
//!
//! A token matters only when a connection is opened (PostgreSQL never checks it again), so the
//! pool keeps the current one in its connect options, and a background task puts a fresh one
//! there ([`sqlx::Pool::set_connect_options`]) some minutes before it expires — see
//! [`refresh_delay`]. A failed refresh is logged and retried sooner and sooner; connections
//! already open keep working meanwhile. The task ends when the pool is closed.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

/// The scope of tokens for Azure Database for PostgreSQL (and MySQL).
pub const SCOPE: &str = "https://ossrdbms-aad.database.windows.net/.default";

/// How long before a token expires it is replaced, when its lifetime allows.
pub const MARGIN: Duration = Duration::from_secs(5 * 60);

/// The shortest wait between two token requests.
pub const MIN_DELAY: Duration = Duration::from_secs(5);

/// A database token and when it expires (seconds since the Unix epoch).
pub struct Token {
    pub secret: SecretString,
    pub expires_at: i64,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Asks `credential` for a token for [`SCOPE`]. The error describes the SDK's failure, never
/// a token.
pub async fn token(credential: &dyn TokenCredential) -> anyhow::Result<Token> {
    let token = credential.get_token(&[SCOPE], None).await.map_err(|e| {
        anyhow::anyhow!(
            "Entra ID token for the database ({SCOPE}): {}",
            crate::secrets::describe(&e)
        )
    })?;
    Ok(Token {
        secret: SecretString::from(token.token.secret().to_owned()),
        expires_at: token.expires_on.unix_timestamp(),
    })
}

/// How long to wait before fetching the next token when the current one expires in
/// `remaining`: until [`MARGIN`] before expiry; with less than twice the margin left, half the
/// time left (so failures are retried sooner and sooner); never less than [`MIN_DELAY`].
pub fn refresh_delay(remaining: Duration) -> Duration {
    let delay = if remaining > MARGIN * 2 {
        remaining - MARGIN
    } else {
        remaining / 2
    };
    delay.max(MIN_DELAY)
}

/// Seconds since the Unix epoch.
fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn remaining(expires_at: i64) -> Duration {
    Duration::from_secs(u64::try_from(expires_at - now()).unwrap_or(0))
}

/// `base` with `token` as its password.
pub fn with_token(base: &PgConnectOptions, token: &Token) -> PgConnectOptions {
    base.clone().password(token.secret.expose_secret())
}

/// Keeps `pool`'s password a valid token until the pool is closed: `base` is the pool's
/// options without a password, `expires_at` the expiry of the token the pool has now.
pub fn spawn_refresh(
    pool: PgPool,
    base: PgConnectOptions,
    credential: Arc<dyn TokenCredential>,
    mut expires_at: i64,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let closed = pool.close_event();
        tokio::pin!(closed);
        loop {
            let delay = refresh_delay(remaining(expires_at));
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = &mut closed => return,
            }
            match token(credential.as_ref()).await {
                Ok(fresh) => {
                    pool.set_connect_options(with_token(&base, &fresh));
                    expires_at = fresh.expires_at;
                    tracing::debug!(expires_at, "database token refreshed");
                }
                Err(e) => {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        remaining_s = remaining(expires_at).as_secs(),
                        "refreshing the database token failed; open connections are unaffected, retrying"
                    );
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_long_lived_token_is_replaced_five_minutes_before_it_expires() {
        assert_eq!(refresh_delay(24 * HOUR), 24 * HOUR - 5 * MIN);
        assert_eq!(refresh_delay(HOUR), 55 * MIN);
        assert_eq!(
            refresh_delay(10 * MIN + Duration::from_secs(1)),
            5 * MIN + Duration::from_secs(1)
        );
    }

    #[test]
    fn a_short_lived_or_failing_token_is_retried_at_half_the_time_left_but_not_too_often() {
        assert_eq!(refresh_delay(10 * MIN), 5 * MIN);
        assert_eq!(refresh_delay(5 * MIN), Duration::from_secs(150));
        assert_eq!(refresh_delay(Duration::from_secs(8)), MIN_DELAY);
        assert_eq!(refresh_delay(Duration::ZERO), MIN_DELAY, "an expired token");
    }

    #[test]
    fn every_delay_ends_before_the_token_expires_when_there_is_time_to() {
        for secs in [11, 60, 299, 300, 601, 3599, 86_400] {
            let remaining = Duration::from_secs(secs);
            assert!(refresh_delay(remaining) < remaining, "{secs} s");
        }
    }
}
