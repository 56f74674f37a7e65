//! The database URL, or only its password, from Key Vault — for real. The official secrets
//! client (`azure_security_keyvault_secrets`) and a real `azure_identity`
//! `ManagedIdentityCredential` talk to a local stand-in for Azure:
//!
//! - a managed identity endpoint over plain HTTP, as the platform serves it: the App Service /
//!   Functions form (`IDENTITY_ENDPOINT` + `X-IDENTITY-HEADER`) for the compiled binary, whose
//!   environment the tests choose, and the VM's IMDS form for in-process tests, which reach it
//!   through an HTTP proxy setting of the credential's own transport (the test process's
//!   environment is shared by every test and never changed);
//! - Key Vault over HTTPS (the SDK sends tokens over TLS only), with a certificate from a
//!   throw-away CA that the clients are told to trust. Like the real service it answers an
//!   unauthenticated request with a `401` challenge naming the resource to get a token for,
//!   then serves secrets to bearers of such a token, and answers `404 SecretNotFound` for an
//!   unknown secret.
//!
//! The password case also uses a stand-in PostgreSQL that asks for a clear-text password and
//! records it, so the tests see exactly which password reaches the wire.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, Transport};
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions};
use clap::Parser;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use url::Url;
use uuid::Uuid;

use azcops::config::{Config, ConfigError};
use azcops::db::{Database, UrlSource};
use azcops::secrets::VaultName;

/// The resource Key Vault's challenge names, as in Azure's public cloud.
const VAULT_RESOURCE: &str = "https://vault.azure.net";

/// A vault name under `vault.azure.net`, resolved to the stand-in by the test's transport.
const NAMED_VAULT_HOST: &str = "kv-azcops-test.vault.azure.net";

/// The tenant in the challenge's `authorization` parameter.
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// The database used when the test run has no `DATABASE_URL`.
const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Generous bound on anything that should happen promptly.
const DEADLINE: Duration = Duration::from_secs(20);

/// A password with every character a URL would need encoded.
const AWKWARD_PASSWORD: &str = "p@ss:w/rd?#%41 &é'\"+";

mod fake_azure;
mod fake_postgres;
mod pki;
mod served;
mod settings;

use fake_azure::*;
use fake_postgres::*;
use pki::*;

// ----------------------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------------------

/// The database of the test run.
fn real_database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("a UTF-8 password")
}

/// The test run's database URL without its password, and the password to put in Key Vault:
/// the URL's own, or (with trust authentication) an awkward one the server will ignore.
fn real_database_url_and_password() -> (String, String) {
    let mut url = Url::parse(&real_database_url()).expect("DATABASE_URL is a URL");
    let password = url
        .password()
        .map(percent_decode)
        .unwrap_or_else(|| AWKWARD_PASSWORD.to_owned());
    url.set_password(None).expect("removing the password");
    (url.into(), password)
}

fn whole_url(vault: Url, secret: &str) -> UrlSource {
    UrlSource::KeyVault {
        vault,
        secret: secret.to_owned(),
        client_id: None,
    }
}

async fn select_one(database: &Database) -> i32 {
    let pool = database.pool().await.expect("the pool");
    tokio::time::timeout(
        DEADLINE,
        sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(pool),
    )
    .await
    .expect("SELECT 1 timed out")
    .expect("SELECT 1 through the pool")
}

// ----------------------------------------------------------------------------------------------
// The whole URL
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_whole_database_url_is_read_from_key_vault_and_the_pool_connects() {
    let azure = FakeAzure::start().await;
    azure.set_secret("database-url", json!(real_database_url()));
    let database = azure.database(whole_url(azure.loopback_vault(), "database-url"));

    assert_eq!(select_one(&database).await, 1);

    // The SDK's flow, as against Azure: challenge, token for the challenge's resource, read.
    assert_eq!(
        azure.seen(),
        vec![
            Seen::Secret {
                name: "database-url".into(),
                auth: Auth::None
            },
            Seen::Token {
                via: "imds",
                resource: VAULT_RESOURCE.into(),
                client_id: None
            },
            Seen::Secret {
                name: "database-url".into(),
                auth: Auth::Valid
            },
        ]
    );
}

#[tokio::test]
async fn the_secret_is_read_once_and_the_pool_is_kept_across_calls() {
    let azure = FakeAzure::start().await;
    azure.set_secret("database-url", json!(real_database_url()));
    let database = azure.database(whole_url(azure.loopback_vault(), "database-url"));

    let first = database.pool().await.expect("first pool() call");
    // A changed secret is not picked up while running: the pool is kept.
    azure.set_secret(
        "database-url",
        json!("postgres://nobody@127.0.0.1:1/changed"),
    );
    let second = database.pool().await.expect("second pool() call");

    assert!(std::ptr::eq(first, second), "the same pool both times");
    assert_eq!(
        azure.reads("database-url"),
        1,
        "read once: {:?}",
        azure.seen()
    );
    assert_eq!(select_one(&database).await, 1);
    assert_eq!(
        azure.reads("database-url"),
        1,
        "still once: {:?}",
        azure.seen()
    );
}

// ----------------------------------------------------------------------------------------------
// The password only
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_password_is_read_from_key_vault_and_sent_with_the_database_url() {
    let azure = FakeAzure::start().await;
    let postgres = FakePostgres::start().await;
    azure.set_secret("database-password", json!(AWKWARD_PASSWORD));
    let url = format!(
        "postgres://azcops_login@{}/azcops_db?sslmode=disable",
        postgres.addr
    );
    let database = azure.database(UrlSource::KeyVaultPassword {
        url: url.clone().into(),
        vault: azure.loopback_vault(),
        secret: "database-password".into(),
        client_id: None,
    });

    let pool = database.pool().await.expect("the pool");
    pool.acquire()
        .await
        .expect_err("the stand-in refuses every login");

    let logins = postgres.logins();
    assert!(!logins.is_empty(), "no login reached the stand-in");
    for login in logins {
        assert_eq!(
            login,
            Login {
                user: "azcops_login".into(),
                database: "azcops_db".into(),
                password: AWKWARD_PASSWORD.into(),
            }
        );
    }
    assert_eq!(azure.reads("database-password"), 1);

    // The control: the same URL without Key Vault sends no such password.
    let direct = FakePostgres::start().await;
    let url = url.replace(&postgres.addr.to_string(), &direct.addr.to_string());
    let database = Database::new(UrlSource::Direct(url.into()), 1, Duration::from_secs(5));
    let pool = database.pool().await.expect("the pool");
    pool.acquire()
        .await
        .expect_err("the stand-in refuses every login");
    assert!(
        direct
            .logins()
            .iter()
            .all(|login| login.password != AWKWARD_PASSWORD),
        "{:?}",
        direct.logins()
    );
}

#[tokio::test]
async fn the_password_from_key_vault_works_with_the_real_database() {
    let azure = FakeAzure::start().await;
    let (url, password) = real_database_url_and_password();
    azure.set_secret("database-password", json!(password));
    let database = azure.database(UrlSource::KeyVaultPassword {
        url: url.into(),
        vault: azure.named_vault(),
        secret: "database-password".into(),
        client_id: None,
    });

    assert_eq!(select_one(&database).await, 1);
    assert_eq!(azure.reads("database-password"), 1);
}

// ----------------------------------------------------------------------------------------------
// Errors
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_missing_secret_is_an_error_naming_the_vault_and_the_secret_and_is_retried() {
    let azure = FakeAzure::start().await;
    let vault = azure.loopback_vault();
    let database = azure.database(whole_url(vault.clone(), "database-url"));

    let error = format!("{:#}", database.pool().await.expect_err("no such secret"));

    assert!(
        error.contains(&VaultName::of(&vault).to_string()),
        "names the vault: {error}"
    );
    assert!(
        error.contains("`database-url`"),
        "names the secret: {error}"
    );
    assert!(error.contains("does not exist"), "{error}");
    assert!(error.contains("SecretNotFound"), "{error}");
    assert_eq!(azure.reads("database-url"), 1);

    // The next call tries again, and succeeds once the secret is there.
    azure.set_secret("database-url", json!(real_database_url()));
    assert_eq!(select_one(&database).await, 1);
    assert_eq!(azure.reads("database-url"), 2);
}

#[tokio::test]
async fn an_empty_secret_is_refused() {
    for value in ["", "  \n"] {
        let azure = FakeAzure::start().await;
        azure.set_secret("database-url", json!(value));
        let vault = azure.loopback_vault();
        let database = azure.database(whole_url(vault.clone(), "database-url"));

        let error = format!("{:#}", database.pool().await.expect_err("an empty secret"));

        assert_eq!(
            error,
            format!(
                "Key Vault {}: secret `database-url` is empty",
                VaultName::of(&vault)
            ),
            "value {value:?}"
        );
    }
}

#[tokio::test]
async fn error_messages_never_contain_the_secret_value() {
    let azure = FakeAzure::start().await;
    let vault = azure.loopback_vault();
    let name = VaultName::of(&vault).to_string();
    // A value that is not a PostgreSQL URL, and a vault answer that is not a secret.
    let cases = [
        ("not-a-url", json!("S3cr3t-not/a url"), "S3cr3t-not/a url"),
        (
            "bad-port",
            json!("postgres://admin:S3cr3tPw@db.example:notaport/x"),
            "S3cr3tPw",
        ),
        ("not-a-string", json!(987_654_321_u32), "987654321"),
    ];
    for (secret, value, leak) in cases {
        azure.set_secret(secret, value);
        let database = azure.database(whole_url(vault.clone(), secret));

        let error = database.pool().await.expect_err("an unusable secret");

        for text in [format!("{error:#}"), format!("{error:?}")] {
            assert!(!text.contains(leak), "{secret}: the value leaked: {text}");
            assert!(text.contains(&name), "{secret}: names the vault: {text}");
            assert!(
                text.contains(&format!("`{secret}`")),
                "{secret}: names the secret: {text}"
            );
        }
    }
}

#[tokio::test]
async fn the_challenge_resource_is_verified_except_for_loopback_vaults() {
    let azure = FakeAzure::start().await;
    azure.set_secret("database-url", json!(real_database_url()));

    // A vault under vault.azure.net accepts the challenge for https://vault.azure.net.
    let named = azure.database(whole_url(azure.named_vault(), "database-url"));
    assert_eq!(select_one(&named).await, 1);

    // A challenge for any other resource is refused before a token is even asked for.
    azure.set_challenge_resource("https://vault.contoso.example");
    let before = azure.seen().len();
    let error = azure
        .database(whole_url(azure.named_vault(), "database-url"))
        .pool()
        .await
        .expect_err("a foreign challenge resource");
    let error = format!("{error:#}");
    assert!(error.contains("doesn't match"), "{error}");
    assert!(error.contains(NAMED_VAULT_HOST), "{error}");
    assert_eq!(
        azure.seen()[before..],
        [Seen::Secret {
            name: "database-url".into(),
            auth: Auth::None
        }],
        "no token asked for, none sent"
    );

    // A loopback vault skips the check (it can never be under vault.azure.net): the client
    // gets a token for the named resource, which this vault then refuses.
    let error = azure
        .database(whole_url(azure.loopback_vault(), "database-url"))
        .pool()
        .await
        .expect_err("a token for the wrong resource");
    let error = format!("{error:#}");
    assert!(error.contains("refused"), "{error}");
    assert!(
        azure.seen().contains(&Seen::Token {
            via: "imds",
            resource: "https://vault.contoso.example".into(),
            client_id: None
        }),
        "{:?}",
        azure.seen()
    );
}
