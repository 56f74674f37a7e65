//! Parsing of connection strings and identity-based settings; nothing printed shows a key.

use std::collections::HashMap;

use secrecy::ExposeSecret;

use super::*;

const KEY: &str = "c2VjcmV0LWtleS1ieXRlcw==";

fn settings(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

fn parse(value: &str) -> Result<StorageConnection, ConnectionError> {
    StorageConnection::from_settings(
        "AzureWebJobsStorage",
        settings(&[("AzureWebJobsStorage", value)]),
    )
}

#[test]
fn a_full_connection_string_gives_endpoints_from_account_and_suffix() {
    let c = parse(&format!(
        "DefaultEndpointsProtocol=https;AccountName=stazcops;AccountKey={KEY};EndpointSuffix=core.chinacloudapi.cn"
    ))
    .unwrap();
    assert_eq!(c.account_name(), Some("stazcops"));
    assert_eq!(
        c.queue_endpoint().unwrap().as_str(),
        "https://stazcops.queue.core.chinacloudapi.cn/"
    );
    assert_eq!(
        c.blob_endpoint().unwrap().as_str(),
        "https://stazcops.blob.core.chinacloudapi.cn/"
    );
    assert!(matches!(c.credential(), StorageCredential::AccountKey(_)));
}

#[test]
fn explicit_endpoints_win_and_lose_their_trailing_slash() {
    let c = parse(&format!(
        "AccountName=devstoreaccount1;AccountKey={KEY};\
         BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1/;\
         QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    ))
    .unwrap();
    assert_eq!(
        c.blob_endpoint().unwrap().as_str(),
        "http://127.0.0.1:10000/devstoreaccount1"
    );
    assert_eq!(
        c.queue_endpoint().unwrap().as_str(),
        "http://127.0.0.1:10001/devstoreaccount1"
    );
}

#[test]
fn use_development_storage_is_azurite_with_the_well_known_account() {
    let c = parse("UseDevelopmentStorage=true").unwrap();
    assert_eq!(c.account_name(), Some(DEVELOPMENT_ACCOUNT));
    assert_eq!(
        c.blob_endpoint().unwrap().as_str(),
        DEVELOPMENT_BLOB_ENDPOINT
    );
    assert_eq!(
        c.queue_endpoint().unwrap().as_str(),
        DEVELOPMENT_QUEUE_ENDPOINT
    );
    assert_eq!(c.setting(), "AzureWebJobsStorage");
}

#[test]
fn a_shared_access_signature_connection_string_keeps_the_token() {
    let c = parse("QueueEndpoint=https://acct.queue.core.windows.net;SharedAccessSignature=?sv=2021-12-02&sig=abc%3D").unwrap();
    let StorageCredential::Sas(sas) = c.credential() else {
        panic!("not a SAS: {c:?}")
    };
    assert_eq!(sas.expose_secret(), "sv=2021-12-02&sig=abc%3D");
    assert!(c.blob_endpoint().is_err());
}

#[test]
fn identity_based_settings_use_the_managed_identity() {
    let c = StorageConnection::from_settings(
        "AzureWebJobsStorage",
        settings(&[
            (
                "AzureWebJobsStorage__queueServiceUri",
                "https://stazcops.queue.core.windows.net/",
            ),
            ("AzureWebJobsStorage__credential", "managedidentity"),
            (
                "AzureWebJobsStorage__clientId",
                "1b6e1f4e-0000-0000-0000-000000000001",
            ),
        ]),
    )
    .unwrap();
    assert_eq!(
        c.queue_endpoint().unwrap().as_str(),
        "https://stazcops.queue.core.windows.net/"
    );
    let err = c.blob_endpoint().unwrap_err().to_string();
    assert!(err.contains("AzureWebJobsStorage__blobServiceUri"), "{err}");
    let StorageCredential::ManagedIdentity { client_id } = c.credential() else {
        panic!("{c:?}")
    };
    assert_eq!(
        client_id.as_deref(),
        Some("1b6e1f4e-0000-0000-0000-000000000001")
    );
}

#[test]
fn an_identity_based_account_name_gives_both_public_cloud_endpoints() {
    let c = StorageConnection::from_settings("Lake", settings(&[("Lake__accountName", "stlake")]))
        .unwrap();
    assert_eq!(
        c.blob_endpoint().unwrap().as_str(),
        "https://stlake.blob.core.windows.net/"
    );
    assert_eq!(
        c.queue_endpoint().unwrap().as_str(),
        "https://stlake.queue.core.windows.net/"
    );
}

#[test]
fn a_missing_connection_names_the_setting_and_its_identity_variants() {
    let err = StorageConnection::from_settings("AzureWebJobsStorage", settings(&[])).unwrap_err();
    assert!(matches!(err, ConnectionError::Missing { .. }));
    let text = err.to_string();
    assert!(
        text.contains("`AzureWebJobsStorage`") && text.contains("__queueServiceUri"),
        "{text}"
    );
}

#[test]
fn invalid_connections_are_refused_with_the_setting_named_and_no_value_shown() {
    for (value, expected) in [
        ("AccountName=a;AccountKey=not*base64", "AccountKey"),
        (
            &format!("AccountKey={KEY}") as &str,
            "AccountKey needs AccountName",
        ),
        (
            "AccountName=a",
            "neither AccountKey nor SharedAccessSignature",
        ),
        (
            "AccountName=a;AccountKey=c2VjcmV0;secret-without-equals",
            "part 3",
        ),
        (
            &format!("AccountName=a;AccountKey={KEY};QueueEndpoint=ftp://x"),
            "QueueEndpoint",
        ),
        (
            &format!("AccountName=a;AccountKey={KEY};DefaultEndpointsProtocol=ftp"),
            "DefaultEndpointsProtocol",
        ),
    ] {
        let err = parse(value).unwrap_err().to_string();
        assert!(
            err.starts_with("storage connection `AzureWebJobsStorage`"),
            "{err}"
        );
        assert!(err.contains(expected), "{value}: {err}");
        assert!(
            !err.contains("c2VjcmV0") && !err.contains("secret-without"),
            "{err}"
        );
    }
    let err = StorageConnection::from_settings(
        "S",
        settings(&[("S__accountName", "a"), ("S__credential", "clientsecret")]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`S__credential` must be `managedidentity`"),
        "{err}"
    );
}

#[test]
fn the_key_never_appears_in_debug_or_display() {
    let c = parse(&format!("AccountName=a;AccountKey={KEY}")).unwrap();
    for text in [
        format!("{c:?}"),
        format!("{c}"),
        format!("{:?}", c.credential()),
    ] {
        assert!(!text.contains(KEY) && !text.contains("c2VjcmV0"), "{text}");
    }
    assert_eq!(c.to_string(), "`AzureWebJobsStorage` (a, account key)");
}
