//! The operator commands, run as a user would: `azcops collect` against the simulated Azure,
//! `azcops enqueue` against Azurite.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use azcops::storage::connection::StorageConnection;
use azcops::storage::message::MessageEncoding;
use azcops::storage::queue::QueueClient;
use azure_sim::estate::EstateConfig;
use azure_sim::{SimConfig, SimHandle};

async fn run(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_azcops"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info");
    for (name, value) in env {
        command.env(name, value);
    }
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("finishes")
        .expect("runs")
}

fn sim_env(sim: &SimHandle) -> Vec<(&'static str, String)> {
    let base = sim.base_url.as_str().trim_end_matches('/').to_owned();
    vec![
        ("AZCOPS_AZURE_ARM_ENDPOINT", base.clone()),
        ("AZCOPS_AZURE_AUTHORITY_HOST", base.clone()),
        (
            "AZCOPS_AZURE_MONITOR_ENDPOINT",
            format!("{base}/monitor/{{region}}"),
        ),
        (
            "AZCOPS_AZURE_RETAIL_PRICES_URL",
            format!("{base}/api/retail/prices"),
        ),
        ("AZCOPS_AZURE_CREDENTIAL", "client-secret".into()),
        ("AZCOPS_AZURE_APP_CLIENT_ID", "azcops-test".into()),
        ("AZCOPS_AZURE_CLIENT_SECRET", "any".into()),
    ]
}

#[tokio::test]
async fn collect_prints_a_subscriptions_normalised_inventory_and_costs() {
    let estate = EstateConfig {
        tenants: 1,
        subscriptions_per_tenant: 1,
        resources_per_subscription: 30,
        ..EstateConfig::default()
    };
    let sim = azure_sim::start(SimConfig {
        estate,
        throttling: false,
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let tenant = sim.estate.tenants()[0].id.to_string();
    let sub = sim.estate.tenants()[0].subscription_ids[0];
    let env = sim_env(&sim);
    let sub_text = sub.to_string();
    let inventory = run(
        &[
            "collect",
            "inventory",
            "--tenant",
            &tenant,
            "--subscription",
            &sub_text,
        ],
        &env,
    )
    .await;
    assert!(
        inventory.status.success(),
        "{}",
        String::from_utf8_lossy(&inventory.stderr)
    );
    let rows: Value = serde_json::from_slice(&inventory.stdout).expect("JSON on stdout");
    assert_eq!(
        rows.as_array().expect("array").len(),
        sim.estate.resources_of(sub).len()
    );
    assert!(rows.as_array().expect("array").iter().all(|r| {
        r["resource_type"].as_str()
            == r["resource_type"]
                .as_str()
                .map(str::to_lowercase)
                .as_deref()
    }));

    let costs = run(
        &[
            "collect",
            "cost",
            "--tenant",
            &tenant,
            "--subscription",
            &sub_text,
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
        ],
        &env,
    )
    .await;
    let rows: Value = serde_json::from_slice(&costs.stdout).expect("JSON on stdout");
    assert!(
        rows.as_array()
            .expect("array")
            .iter()
            .all(|r| r["date"] == "2026-11-01" || r["date"] == "2026-11-02")
    );

    let bad = run(
        &[
            "collect",
            "cost",
            "--tenant",
            &tenant,
            "--subscription",
            &sub_text,
            "--from",
            "2026-11-01",
        ],
        &env,
    )
    .await;
    assert!(!bad.status.success(), "--from without --to is refused");
}

#[tokio::test]
async fn enqueue_puts_a_versioned_message_on_the_queue() {
    let name = format!("enqueue-{}", &Uuid::new_v4().simple().to_string()[..12]);
    let (tenant, sub) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
    let env = [
        (
            "AzureWebJobsStorage",
            "UseDevelopmentStorage=true".to_owned(),
        ),
        ("AZCOPS_INGEST_QUEUE", name.clone()),
    ];
    let output = run(
        &[
            "enqueue",
            "--tenant",
            &tenant,
            "--subscription",
            &sub,
            "--mode",
            "cost",
        ],
        &env,
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let queue = QueueClient::new(
        &StorageConnection::development(),
        &name,
        MessageEncoding::Base64,
    )
    .expect("queue");
    let messages = queue
        .receive(5, Duration::from_secs(30))
        .await
        .expect("Azurite (scripts/ensure-azurite)");
    assert_eq!(messages.len(), 1);
    let message: Value = serde_json::from_str(&messages[0].text().expect("base64")).expect("JSON");
    assert_eq!(
        (message["v"].as_u64(), message["mode"].as_str()),
        (Some(1), Some("cost"))
    );
    assert_eq!(message["subscription_id"], sub.as_str());

    let missing = run(
        &["enqueue", "--tenant", &tenant, "--subscription", &sub],
        &[],
    )
    .await;
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("AzureWebJobsStorage"),
        "names the setting"
    );
}
