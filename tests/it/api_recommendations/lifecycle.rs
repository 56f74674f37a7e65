//! The role × transition matrix, two approvers racing, several roles in one token, bulk
//! transitions, and a snooze ending on the API's clock.

use axum::http::{Method, StatusCode};
use chrono::Duration;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use azcops::db::recommendations::Status;

use super::World;
use crate::support::findings::{drive, state_of};
use crate::support::{ADMIN, APPROVER, READER};

/// A request body that gives `to` everything it may need.
fn body_for(w: &World, to: Status) -> Value {
    let mut body = json!({ "to": to, "reason": "decided in a test" });
    match to {
        Status::Dismissed => body["until"] = json!(w.app.clock.now() + Duration::days(7)),
        Status::Executed => body["reference"] = json!("CHG-1"),
        _ => {}
    }
    body
}

/// What PHASE3 §3 says the answer is.
fn expected(role: &str, from: Status, to: Status) -> StatusCode {
    use Status::*;
    let by_approver = matches!(
        (from, to),
        (Open, Approved) | (Open | Approved, Rejected) | (Open, Dismissed)
    );
    let by_admin = matches!(
        (from, to),
        (Dismissed | Rejected, Open) | (Approved, Executed)
    );
    match role {
        READER => StatusCode::FORBIDDEN,
        _ if !by_approver && !by_admin => StatusCode::CONFLICT,
        APPROVER if by_admin => StatusCode::FORBIDDEN,
        _ => StatusCode::OK,
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_role_and_transition_matrix_answers_exactly_as_specified(pool: PgPool) {
    let w = World::new(pool).await;
    let mut answered = 0;
    for role in [READER, APPROVER, ADMIN] {
        let token = w.token(&[role]);
        for from in Status::ALL {
            for to in Status::ALL {
                let id = w.fresh().await;
                drive(&w.app.pool, id, from).await;
                let uri = format!("/api/v1/recommendations/{id}/transition");
                let reply = w.app.post(&uri, &token, body_for(&w, to)).await;
                let want = expected(role, from, to);
                let case = format!("{role}: {} → {}", from.as_str(), to.as_str());
                assert_eq!(reply.status, want, "{case}: {}", reply.body);
                let now = state_of(&w.app.pool, id).await.0;
                match want {
                    StatusCode::OK => {
                        assert_eq!(reply.body["status"], to.as_str(), "{case}");
                        assert_eq!(now, to, "{case}");
                    }
                    StatusCode::CONFLICT => {
                        reply.assert_error(StatusCode::CONFLICT, "invalid_transition");
                        assert_eq!(now, from, "{case}");
                    }
                    _ => {
                        reply.assert_error(StatusCode::FORBIDDEN, "forbidden");
                        assert_eq!(now, from, "{case}");
                    }
                }
                answered += 1;
            }
        }
    }
    assert_eq!(answered, 108);
    let decisions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM recommendation_events e JOIN audit_logs a
           ON a.target_id = e.recommendation_id::text AND a.action = 'transition'
         WHERE e.kind = 'decision'",
    )
    .fetch_one(&w.app.pool)
    .await
    .unwrap();
    // 7 transitions for the admin, 4 for the approver: each one event and one audit record.
    assert_eq!(decisions, 11);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn of_two_approvers_deciding_at_once_one_wins(pool: PgPool) {
    let w = World::new(pool).await;
    for expected_status in [Some("open"), None] {
        let id = w.fresh().await;
        let uri = format!("/api/v1/recommendations/{id}/transition");
        let mut body = json!({ "to": "approved" });
        if let Some(status) = expected_status {
            body["expected_status"] = json!(status);
        }
        let (one, two) = (w.token(&[APPROVER]), w.token(&[APPROVER]));
        let (a, b) = tokio::join!(
            w.app.post(&uri, &one, body.clone()),
            w.app.post(&uri, &two, body.clone())
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "{expected_status:?}"
        );
        let loser = if a.status == StatusCode::CONFLICT {
            a
        } else {
            b
        };
        let code = if expected_status.is_some() {
            "status_changed"
        } else {
            "invalid_transition"
        };
        loser.assert_error(StatusCode::CONFLICT, code);
        let events: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM recommendation_events WHERE recommendation_id = $1",
        )
        .bind(id)
        .fetch_one(&w.app.pool)
        .await
        .unwrap();
        assert_eq!(events, 1, "one decision recorded");
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_token_may_do_what_any_of_its_roles_allows(pool: PgPool) {
    let w = World::new(pool).await;
    let id = w.fresh().await;
    let uri = format!("/api/v1/recommendations/{id}/transition");
    let approver_only = w.token(&[APPROVER]);
    assert_eq!(
        w.app
            .get("/api/v1/recommendations", &approver_only)
            .await
            .status,
        StatusCode::OK
    );
    let both = w.token(&[READER, APPROVER]);
    let reply = w.app.post(&uri, &both, json!({ "to": "approved" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let execute = json!({ "to": "executed", "reference": "CHG-7" });
    let reply = w.app.post(&uri, &both, execute.clone()).await;
    reply.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let reply = w
        .app
        .post(&uri, &w.token(&[APPROVER, ADMIN]), execute)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["executed_reference"], "CHG-7");
    let nobody = w.token(&["Some.Other.Role"]);
    let reply = w.app.get("/api/v1/recommendations", &nobody).await;
    reply.assert_error(StatusCode::FORBIDDEN, "forbidden");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_bulk_transition_answers_for_each_id(pool: PgPool) {
    let w = World::new(pool).await;
    let open = w.fresh().await;
    let executed = w.fresh().await;
    drive(&w.app.pool, executed, Status::Executed).await;
    let other = World::new(w.app.pool.clone()).await;
    let foreign = other.fresh().await;
    let body = json!({
        "ids": [open, executed, foreign, open],
        "to": "dismissed",
        "reason": "not this quarter",
        "until": w.app.clock.now() + Duration::days(90),
    });
    let reply = w
        .app
        .post(
            "/api/v1/recommendations/transitions",
            &w.token(&[APPROVER]),
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let outcomes: Vec<(String, u64, Value)> = reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["outcome"].as_str().unwrap().to_owned(),
                r["http_status"].as_u64().unwrap(),
                r["status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("ok".into(), 200, json!("dismissed")),
            ("invalid_transition".into(), 409, json!("executed")),
            ("not_found".into(), 404, Value::Null),
        ]
    );
    assert_eq!(
        (
            reply.body["succeeded"].clone(),
            reply.body["failed"].clone()
        ),
        (json!(1), json!(2))
    );
    assert_eq!(state_of(&w.app.pool, foreign).await.0, Status::Open);
    let reader = w
        .app
        .post(
            "/api/v1/recommendations/transitions",
            &w.token(&[READER]),
            body,
        )
        .await;
    reader.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let too_many: Vec<Uuid> = (0..501).map(|_| Uuid::new_v4()).collect();
    let reply = w
        .app
        .post(
            "/api/v1/recommendations/transitions",
            &w.token(&[ADMIN]),
            json!({ "ids": too_many, "to": "approved" }),
        )
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST, "bad_request");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_snooze_ends_on_the_apis_clock_and_the_timeline_says_so(pool: PgPool) {
    let w = World::new(pool).await;
    let id = w.fresh().await;
    let until = w.app.clock.now() + Duration::days(3);
    let snooze = json!({ "to": "dismissed", "reason": "after the freeze", "until": until });
    let uri = format!("/api/v1/recommendations/{id}");
    let admin = w.token(&[ADMIN]);
    let reply = w
        .app
        .post(&format!("{uri}/transition"), &admin, snooze)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "dismissed");
    assert!(reply.body["snoozed_until"].is_string());
    w.app.clock.advance(Duration::days(2));
    assert_eq!(w.app.get(&uri, &admin).await.body["status"], "dismissed");
    w.app.clock.advance(Duration::days(2));
    let reply = w.app.call(Method::GET, &uri, Some(&admin), None).await;
    assert_eq!(reply.body["status"], "open");
    assert!(reply.body["snoozed_until"].is_null());
    let kinds: Vec<&str> = reply.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["decision", "snooze_expired"]);
    assert_eq!(reply.body["timeline"][1]["actor"], "system");
}
