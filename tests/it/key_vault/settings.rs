//! Configuration: inconsistent Key Vault settings fail start-up naming the variable.

use super::*;

#[derive(Debug, Parser)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
}

/// The configuration with these database settings, all given, so that the test run's own
/// environment does not leak in.
pub fn config(
    database_url: &str,
    key_vault_url: &str,
    url_secret: &str,
    password_secret: &str,
) -> Config {
    let args = [
        "azcops".to_owned(),
        format!("--database-url={database_url}"),
        format!("--key-vault-url={key_vault_url}"),
        format!("--database-url-secret={url_secret}"),
        format!("--database-password-secret={password_secret}"),
    ];
    Cli::try_parse_from(args).expect("parsing").config
}

pub fn refused_variable(config: &Config) -> &'static str {
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
pub fn inconsistent_key_vault_settings_fail_start_up_naming_the_variable() {
    const VAULT: &str = "https://kv-azcops.vault.azure.net/";
    const URL: &str = "postgres://azcops@db.example:5432/azcops";

    // Accepted: the password form, the whole-URL form, a plain URL.
    for accepted in [
        config(URL, VAULT, "database-url", "database-password"),
        config("", VAULT, "database-url", ""),
        config(URL, "", "database-url", ""),
    ] {
        assert!(azcops::server::database(&accepted).is_ok(), "{accepted:?}");
    }

    let cases = [
        (
            config(
                "postgres://azcops:pw@db.example/azcops",
                VAULT,
                "database-url",
                "database-password",
            ),
            "AZCOPS_DATABASE_PASSWORD_SECRET",
            "a URL that has a password already",
        ),
        (
            config(
                "postgres://azcops@db.example/azcops?password=pw",
                VAULT,
                "database-url",
                "database-password",
            ),
            "AZCOPS_DATABASE_PASSWORD_SECRET",
            "a URL with ?password=",
        ),
        (
            config(URL, "", "database-url", "database-password"),
            "AZCOPS_KEY_VAULT_URL",
            "a password secret without a vault",
        ),
        (
            config("", VAULT, "database-url", "database-password"),
            "DATABASE_URL",
            "a password secret without a URL",
        ),
        (
            config(URL, VAULT, "database-url", "database password"),
            "AZCOPS_DATABASE_PASSWORD_SECRET",
            "an invalid password secret name",
        ),
        (
            config("", VAULT, "db/url", ""),
            "AZCOPS_DATABASE_URL_SECRET",
            "an invalid URL secret name",
        ),
    ];
    for (config, variable, case) in cases {
        assert_eq!(refused_variable(&config), variable, "{case}");
    }
}
