//! How the application logs in to PostgreSQL with `AZCOPS_DATABASE_AUTH=entra`: with an Entra
//! ID token of its managed identity as the password, refreshed before it expires; and which
//! database settings go with it.
//!
//! A stand-in PostgreSQL asks for the password in clear text, records it and refuses the login,
//! so the tests see exactly which token reaches the wire. The tokens come from a credential
//! standing in for the managed identity, whose tokens live a few seconds only.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::http::ClientOptions;
use clap::Parser;
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use azcops::config::{Config, ConfigError};
use azcops::db::{Database, Login, UrlSource, entra};

use crate::support::scratch::eventually;

// ----------------------------------------------------------------------------------------------
// Stand-ins: the managed identity and PostgreSQL
// ----------------------------------------------------------------------------------------------

/// Issues `db-token-1`, `db-token-2`, … each valid for `lifetime`, and records the scopes asked.
#[derive(Debug)]
struct ShortLivedTokens {
    lifetime: Duration,
    scopes: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl TokenCredential for ShortLivedTokens {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let mut seen = self.scopes.lock().expect("lock");
        seen.push(scopes.join(" "));
        let token = format!("db-token-{}", seen.len());
        let expires_on = azure_core::time::OffsetDateTime::now_utc() + self.lifetime;
        Ok(AccessToken::new(token, expires_on))
    }
}

/// Records the user and password of every login, and refuses each.
struct FakePostgres {
    addr: SocketAddr,
    logins: Arc<Mutex<Vec<(String, String)>>>,
}

impl FakePostgres {
    async fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let logins = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logins);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sink = Arc::clone(&sink);
                tokio::spawn(async move {
                    if let Ok(login) = password_then_refuse(stream).await {
                        sink.lock().expect("lock").push(login);
                    }
                });
            }
        });
        Self { addr, logins }
    }

    fn passwords(&self) -> Vec<String> {
        let logins = self.logins.lock().expect("lock");
        logins
            .iter()
            .map(|(_, password)| password.clone())
            .collect()
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// The first steps of the PostgreSQL protocol: no TLS, `AuthenticationCleartextPassword`,
/// then `28P01` whatever the password. Returns the start-up `user` and the password.
async fn password_then_refuse(mut stream: TcpStream) -> std::io::Result<(String, String)> {
    const SSL_REQUEST: u32 = 80_877_103;
    let startup = loop {
        let len = usize::try_from(stream.read_u32().await?).map_err(|_| bad("length"))?;
        let code = stream.read_u32().await?;
        let mut body = vec![0; len.checked_sub(8).ok_or_else(|| bad("length"))?];
        stream.read_exact(&mut body).await?;
        if code == SSL_REQUEST {
            stream.write_all(b"N").await?;
        } else {
            break body;
        }
    };
    let fields: Vec<String> = startup
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let user = fields
        .iter()
        .position(|f| f == "user")
        .and_then(|i| fields.get(i + 1).cloned())
        .unwrap_or_default();
    stream.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await?;
    if stream.read_u8().await? != b'p' {
        return Err(bad("password message expected"));
    }
    let len = usize::try_from(stream.read_u32().await?).map_err(|_| bad("length"))?;
    let mut body = vec![0; len.checked_sub(4).ok_or_else(|| bad("length"))?];
    stream.read_exact(&mut body).await?;
    let password = String::from_utf8_lossy(body.split(|b| *b == 0).next().unwrap_or_default());
    let error = b"SFATAL\0C28P01\0Mpassword authentication failed (stand-in)\0\0";
    let mut message = vec![b'E'];
    message.extend_from_slice(&u32::try_from(error.len() + 4).unwrap_or(0).to_be_bytes());
    message.extend_from_slice(error);
    stream.write_all(&message).await?;
    Ok((user, password.into_owned()))
}

// ----------------------------------------------------------------------------------------------
// Entra ID tokens as the password
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_entra_login_sends_a_database_token_and_a_fresh_one_before_it_expires() {
    let postgres = FakePostgres::start().await;
    let tokens = Arc::new(ShortLivedTokens {
        // Refreshed after half its lifetime (entra::MIN_DELAY), well before it expires.
        lifetime: Duration::from_secs(10),
        scopes: Mutex::default(),
    });
    let url = format!("postgres://azcops-func@{}/azcops", postgres.addr);
    let database = Database::with_credential(
        UrlSource::Direct(SecretString::from(url)),
        Arc::clone(&tokens) as Arc<dyn TokenCredential>,
        ClientOptions::default(),
        2,
        Duration::from_secs(2),
    )
    .with_login(Login::Entra { client_id: None });
    let pool = database.pool().await.expect("pool");

    pool.acquire().await.expect_err("the stand-in refuses");
    assert_eq!(
        postgres.passwords().first().map(String::as_str),
        Some("db-token-1")
    );
    assert_eq!(
        postgres.logins.lock().expect("lock")[0].0,
        "azcops-func",
        "the role named in DATABASE_URL"
    );

    eventually("a second token", || async {
        (tokens.scopes.lock().expect("lock").len() >= 2).then_some(())
    })
    .await;
    pool.acquire().await.expect_err("the stand-in refuses");
    assert_eq!(
        postgres.passwords().last().map(String::as_str),
        Some("db-token-2")
    );
    let scopes = tokens.scopes.lock().expect("lock").clone();
    assert!(scopes.iter().all(|s| s == entra::SCOPE), "{scopes:?}");

    pool.close().await;
    tokio::time::sleep(entra::MIN_DELAY + Duration::from_secs(1)).await;
    assert_eq!(
        tokens.scopes.lock().expect("lock").len(),
        2,
        "no refresh after the pool is closed"
    );
}

// ----------------------------------------------------------------------------------------------
// Configuration
// ----------------------------------------------------------------------------------------------

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

/// The configuration with these database settings, all given, so that the test run's own
/// environment does not leak in.
fn config(auth: &str, url: &str, vault: &str, password_secret: &str) -> Config {
    let args = [
        "azcops".to_owned(),
        format!("--database-auth={auth}"),
        format!("--database-url={url}"),
        format!("--key-vault-url={vault}"),
        format!("--database-password-secret={password_secret}"),
    ];
    Cli::try_parse_from(args).expect("parsing").config
}

fn refused_variable(config: &Config) -> &'static str {
    match azcops::server::database(config) {
        Ok(_) => panic!("accepted: {config:?}"),
        Err(e) => {
            e.downcast_ref::<ConfigError>()
                .unwrap_or_else(|| panic!("not a configuration error: {e:#}"))
                .variable
        }
    }
}

#[test]
fn an_entra_login_needs_a_database_url_without_a_password() {
    const URL: &str = "postgres://azcops-func@db.example:5432/azcops?sslmode=require";
    const VAULT: &str = "https://kv.vault.azure.net/";
    assert!(azcops::server::database(&config("entra", URL, "", "")).is_ok());
    let cases = [
        (
            config("entra", "postgres://u:pw@db.example/azcops", "", ""),
            "DATABASE_URL",
        ),
        (config("entra", "", VAULT, ""), "DATABASE_URL"),
        (
            config("entra", URL, VAULT, "database-password"),
            "AZCOPS_DATABASE_PASSWORD_SECRET",
        ),
    ];
    for (config, variable) in cases {
        assert_eq!(refused_variable(&config), variable, "{config:?}");
    }
}
