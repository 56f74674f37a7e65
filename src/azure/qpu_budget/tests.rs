//! The budget's rules: waits, tightening from Azure's headers, holds, for both quotas.

use super::*;

fn at(now: DateTime<Utc>, secs_ago: i64) -> DateTime<Utc> {
    now - chrono::Duration::seconds(secs_ago)
}

#[test]
fn limits_configured_above_azures_quota_book_nothing_for_an_unused_quota() {
    let limits = QpuLimits::new(1_000_000, 1_000_000, 1_000_000);
    let mut observation = QpuObservation::default();
    observation.headers.remaining_10s = Some(12);
    observation.headers.remaining_min = Some(60);
    observation.headers.remaining_hour = Some(600);
    assert_eq!(units_to_tighten(&limits, &[], Utc::now(), &observation), 0);
    // Azure reporting use still counts: 4 of the documented 12 gone in 10 s.
    observation.headers.remaining_10s = Some(8);
    assert_eq!(units_to_tighten(&limits, &[], Utc::now(), &observation), 4);
}

#[test]
fn a_full_window_waits_until_enough_spending_leaves_it() {
    let limits = QpuLimits::default();
    let now = Utc::now();
    let spent = vec![(at(now, 8), 6), (at(now, 4), 6)];
    assert_eq!(
        wait_needed(&limits.windows, &spent, None, now, 1),
        Duration::from_secs(2)
    );
    assert_eq!(
        wait_needed(&limits.windows, &spent, None, now, 7),
        Duration::from_secs(6)
    );
    assert_eq!(
        wait_needed(&limits.windows, &spent[1..], None, now, 6),
        Duration::ZERO
    );
}

#[test]
fn the_hour_window_and_holds_count_too() {
    let limits = QpuLimits::new(12, 60, 20);
    let now = Utc::now();
    let spent = vec![(at(now, 3000), 10), (at(now, 100), 10)];
    assert_eq!(
        wait_needed(&limits.windows, &spent, None, now, 1),
        Duration::from_secs(600)
    );
    let hold = now + chrono::Duration::seconds(30);
    assert_eq!(
        wait_needed(&limits.windows, &[], Some(hold), now, 1),
        Duration::from_secs(30)
    );
}

#[test]
fn headers_showing_less_room_tighten_the_budget() {
    let limits = QpuLimits::default();
    let now = Utc::now();
    let mut observation = QpuObservation {
        charged: 2,
        ..Default::default()
    };
    observation.headers.remaining_10s = Some(0);
    assert_eq!(
        units_to_tighten(&limits, &[(now, 2)], now, &observation),
        10
    );
    observation.headers.remaining_10s = Some(10);
    assert_eq!(units_to_tighten(&limits, &[(now, 2)], now, &observation), 0);
    observation.headers.consumed = Some(5);
    assert_eq!(units_to_tighten(&limits, &[(now, 2)], now, &observation), 3);
}

#[test]
fn resource_graph_requests_azure_counted_elsewhere_are_booked() {
    let window = [RESOURCE_GRAPH_QUOTA];
    let documented = [RESOURCE_GRAPH_QUOTA.limit];
    let now = Utc::now();
    let mine = vec![(at(now, 1), 1), (at(now, 1), 1)];
    // 15 − 10 = 5 used by Azure's count, 2 of them known: 3 sent by someone else.
    assert_eq!(
        missing_units(&window, &documented, &[Some(10)], &mine, now),
        3
    );
    assert_eq!(
        missing_units(&window, &documented, &[Some(13)], &mine, now),
        0
    );
    assert_eq!(missing_units(&window, &documented, &[None], &[], now), 0);
    // A quota configured above the documented one measures Azure's use against 15.
    let generous = [QpuWindow {
        limit: 100,
        ..RESOURCE_GRAPH_QUOTA
    }];
    assert_eq!(
        missing_units(&generous, &documented, &[Some(15)], &[], now),
        0
    );
}

#[tokio::test]
async fn the_memory_budget_waits_for_a_full_window_and_for_a_hold() {
    // 2 units per 100 ms.
    let budget = MemoryQpuBudget::new(QpuLimits::new(2, 60, 600).scaled(0.01));
    assert_eq!(budget.acquire("t", 2).await.unwrap(), Duration::ZERO);
    assert!(budget.acquire("t", 1).await.unwrap() > Duration::ZERO);
    assert_eq!(budget.acquire("other", 2).await.unwrap(), Duration::ZERO);
    let held = QpuObservation {
        retry_after: Some(Duration::from_millis(150)),
        ..Default::default()
    };
    budget.observe("other", &held).await.unwrap();
    let waited = budget.acquire("other", 1).await.unwrap();
    assert!(waited >= Duration::from_millis(140), "waited {waited:?}");
}

#[tokio::test]
async fn resource_graph_requests_wait_for_the_window_and_for_a_used_up_quota() {
    // 2 requests per 100 ms.
    let window = QpuWindow {
        length: Duration::from_millis(100),
        limit: 2,
    };
    let budget = MemoryQpuBudget::default().with_resource_graph_quota(window);
    for _ in 0..2 {
        assert_eq!(budget.acquire_request("p").await.unwrap(), Duration::ZERO);
    }
    assert!(budget.acquire_request("p").await.unwrap() > Duration::ZERO);
    // The same key under the other quota is another log.
    assert_eq!(budget.acquire("p", 2).await.unwrap(), Duration::ZERO);

    let used_up = UserQuotaObservation {
        remaining: Some(0),
        resets_after: Some(Duration::from_millis(150)),
        retry_after: None,
    };
    budget.observe_user_quota("q", &used_up).await.unwrap();
    let waited = budget.acquire_request("q").await.unwrap();
    assert!(waited >= Duration::from_millis(140), "waited {waited:?}");
    // Room left: the reset time is no hold.
    let room = UserQuotaObservation {
        remaining: Some(2),
        ..used_up
    };
    budget.observe_user_quota("r", &room).await.unwrap();
    assert_eq!(budget.acquire_request("r").await.unwrap(), Duration::ZERO);
}

#[tokio::test]
async fn requests_azure_counted_elsewhere_leave_the_log_when_azures_window_resets() {
    // 15 requests per 400 ms; Azure has counted 10 and resets its window in 100 ms.
    let window = RESOURCE_GRAPH_QUOTA.scaled(0.08);
    let budget = MemoryQpuBudget::default().with_resource_graph_quota(window);
    let counted = UserQuotaObservation {
        remaining: Some(5),
        resets_after: Some(Duration::from_millis(100)),
        retry_after: None,
    };
    budget.observe_user_quota("p", &counted).await.unwrap();
    for _ in 0..5 {
        assert_eq!(budget.acquire_request("p").await.unwrap(), Duration::ZERO);
    }
    let waited = budget.acquire_request("p").await.unwrap();
    assert!(
        waited > Duration::ZERO && waited <= Duration::from_millis(150),
        "waited {waited:?}: until Azure's reset, not a whole window"
    );
}

#[test]
fn queries_larger_than_the_smallest_window_are_refused() {
    let limits = QpuLimits::default();
    assert!(check_units(&limits, "t", 12).is_ok());
    assert!(!check_units(&limits, "t", 13).unwrap_err().is_retryable());
}
