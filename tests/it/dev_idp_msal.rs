//! The development identity provider as MSAL (the web page's sign-in library) meets it: over
//! loopback HTTPS with its self-signed certificate, at Entra ID's v2.0 layout under a tenant
//! segment, answering the authorization request with `client_info`, and the token request with
//! an access token for the API, an ID token carrying the request's `nonce`, and a refresh token
//! that works once. (The browser tests, `scripts/test-ui`, run MSAL itself against it.)

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::Digest;
use uuid::Uuid;

use azcops::auth::{ROLE_READER, Verifier, VerifierSettings};
use azure_sim::dev_idp::{self, DevIdpConfig, tls};

fn form(pairs: &[(&str, &str)]) -> String {
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        body.append_pair(name, value);
    }
    body.finish()
}

/// The claims of a JWT (unverified).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

#[tokio::test]
async fn the_dev_idp_serves_msal_over_https_as_entra_id_lays_out_its_endpoints() {
    let dir = std::env::temp_dir().join(format!("azcops-dev-idp-{}", Uuid::new_v4()));
    let config = DevIdpConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        key_file: dir.join("key.der"),
        audience: crate::support::tokens::TEST_AUDIENCE.to_owned(),
        default_tenant_id: Uuid::new_v4(),
        https_listen: Some("127.0.0.1:0".parse().expect("address")),
        tls_file: dir.join("tls.pem"),
    };
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let tls_config = tls::server_config(&config.tls_file).expect("TLS settings");
    let listener = tls::TlsListener::new(tcp, tls_config).expect("TLS listener");
    let addr = axum::serve::Listener::local_addr(&listener).expect("address");
    let base = format!("https://{addr}");
    let router = dev_idp::over_https(dev_idp::router(&config).expect("dev IdP router"));
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    // The certificate is self-signed, as a browser sees it before the developer accepts it.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_danger_accept_invalid_certs(true)
        .build()
        .expect("client");

    let authority = format!("{base}/organizations/v2.0");
    let discovery = http
        .get(format!("{authority}/.well-known/openid-configuration"))
        .header("origin", "http://127.0.0.1:7071")
        .send()
        .await
        .expect("discovery over HTTPS");
    assert_eq!(discovery.status(), 200);
    assert_eq!(discovery.headers()["access-control-allow-origin"], "*");
    let discovery: Value = discovery.json().await.expect("json");
    let endpoints = format!("{base}/organizations/oauth2/v2.0");
    assert_eq!(
        discovery["authorization_endpoint"],
        format!("{endpoints}/authorize")
    );
    assert_eq!(discovery["token_endpoint"], format!("{endpoints}/token"));
    assert_eq!(
        discovery["end_session_endpoint"],
        format!("{endpoints}/logout")
    );
    assert_eq!(discovery["issuer"], format!("{base}/{{tenantid}}/v2.0"));
    assert_eq!(discovery["jwks_uri"], format!("{base}/keys"));

    // MSAL's token request carries an X-AnchorMailbox header once it knows the account: the
    // browser asks first (a CORS preflight), and the provider lets it.
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{endpoints}/token"))
        .header("origin", "http://127.0.0.1:7071")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-anchormailbox",
        )
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .expect("header")
        .to_ascii_lowercase();
    assert!(
        allowed.contains("x-anchormailbox") || allowed == "*",
        "{allowed}"
    );

    let verifier = "the-verifier-msal-made-for-this-sign-in-0123456789";
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let redirect = "http://127.0.0.1:7071/api/ui/";
    let tid = Uuid::new_v4().to_string();
    let decision = [
        ("client_id", "spa"),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        (
            "scope",
            "api://azcops-test/.default openid profile offline_access",
        ),
        ("state", "msal-state"),
        ("nonce", "msal-nonce"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("response_mode", "fragment"),
        ("client_info", "1"),
        ("x-client-SKU", "msal.js.browser"),
        ("tid", tid.as_str()),
        ("role", ROLE_READER),
        ("name", "Grace Hopper"),
    ];
    let answer = http
        .post(format!("{endpoints}/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&decision))
        .send()
        .await
        .expect("authorize");
    assert_eq!(answer.status(), 303);
    let location = answer.headers()["location"].to_str().expect("location");
    let fragment = location
        .strip_prefix(&format!("{redirect}#"))
        .expect("fragment");
    let back: HashMap<String, String> = url::form_urlencoded::parse(fragment.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(back["state"], "msal-state");
    let info: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(&back["client_info"])
            .expect("base64url"),
    )
    .expect("client_info JSON");
    assert_eq!(info["utid"], tid.as_str());

    let token = |body: Vec<(&'static str, String)>| {
        let (http, url) = (http.clone(), format!("{endpoints}/token"));
        async move {
            let pairs: Vec<(&str, &str)> = body.iter().map(|(k, v)| (*k, v.as_str())).collect();
            http.post(url)
                .header(
                    "content-type",
                    "application/x-www-form-urlencoded;charset=utf-8",
                )
                .body(form(&pairs))
                .send()
                .await
                .expect("token")
        }
    };
    let signed_in = token(vec![
        ("client_id", "spa".into()),
        ("grant_type", "authorization_code".into()),
        ("code", back["code"].clone()),
        ("code_verifier", verifier.into()),
        ("redirect_uri", redirect.into()),
        ("client_info", "1".into()),
    ])
    .await;
    assert_eq!(signed_in.status(), 200);
    let signed_in: Value = signed_in.json().await.expect("json");
    let id = claims(signed_in["id_token"].as_str().expect("an ID token"));
    assert_eq!(id["nonce"], "msal-nonce", "MSAL checks the nonce");
    assert_eq!(
        (id["aud"].as_str(), id["tid"].as_str()),
        (Some("spa"), Some(tid.as_str()))
    );
    assert_eq!(id["oid"], info["uid"]);
    assert_eq!(signed_in["client_info"], back["client_info"].as_str());
    let settings = VerifierSettings {
        jwks_url: format!("{base}/keys").parse().expect("JWKS URL"),
        ..crate::support::tokens::verifier_settings(&"http://unused/".parse().expect("URL"))
    };
    let verifier_http = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .build()
        .expect("client");
    let access = Verifier::new(settings, verifier_http)
        .verify(signed_in["access_token"].as_str().expect("access token"))
        .await
        .expect("a valid access token for the API");
    assert!(access.has_role(ROLE_READER));

    // The refresh token gets new tokens once (no nonce: that belongs to the sign-in).
    let refresh = signed_in["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    let redeem = || {
        token(vec![
            ("client_id", "spa".into()),
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh.clone()),
        ])
    };
    let renewed = redeem().await;
    assert_eq!(renewed.status(), 200);
    let renewed: Value = renewed.json().await.expect("json");
    assert!(
        claims(renewed["id_token"].as_str().expect("ID token"))
            .get("nonce")
            .is_none()
    );
    assert_ne!(renewed["refresh_token"], signed_in["refresh_token"]);
    let again = redeem().await;
    assert_eq!(again.status(), 400, "a refresh token is used once");

    let out = http
        .get(format!(
            "{endpoints}/logout?post_logout_redirect_uri={redirect}"
        ))
        .send()
        .await
        .expect("logout");
    assert_eq!(out.headers()["location"], redirect);
    server.abort();
    std::fs::remove_dir_all(dir).ok();
}
