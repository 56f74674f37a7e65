"""Drives the running API through a client generated from its OpenAPI document.

Run by scripts/check-openapi, which generates the `azcops_client` package with
openapi-python-client (not committed) and passes the API's address, an operator admin's token and
the simulator's estate in the environment. Every call goes through the generated operation
functions and models, so a contract the client cannot use (a wrong schema, a missing operation, an
undocumented status) fails here. Prints one line per call; exits non-zero on the first failure.
"""

import json
import os
import sys
import uuid

from azcops_client import AuthenticatedClient
from azcops_client.api.costs import get_cost_summary, list_costs
from azcops_client.api.health import get_health
from azcops_client.api.ingestion import get_ingestion_run, list_ingestion_runs, trigger_ingestion
from azcops_client.api.recommendations import (
    get_recommendation, get_recommendation_summary, list_recommendations, transition_recommendation,
    transition_recommendations)
from azcops_client.api.resources import list_resources
from azcops_client.api.rules import list_rules, update_rule_settings
from azcops_client.api.subscriptions import create_subscription, get_subscription, list_subscriptions
from azcops_client.api.suppressions import (
    create_suppression, delete_suppression, list_suppressions, update_suppression)
from azcops_client.api.tenants import create_tenant, get_tenant, list_tenants
from azcops_client.models import (
    BulkTransitionRequest, CreateSubscription, CreateSuppression, CreateTenant, Mode, Status,
    SuppressionKind, SuppressionScope, SuppressionTarget, TransitionRequest, TriggerRequest,
    UpdateRuleSettings, UpdateSuppression)


def check(what, reply, status):
    """Asserts the status of a call and returns its parsed body."""
    ok = reply.status_code == status
    print(f"openapi-client: {'ok' if ok else 'FAILED'} {what}: {int(reply.status_code)}")
    if not ok:
        sys.exit(f"openapi-client: {what}: expected {status}, got {int(reply.status_code)}: "
                 f"{reply.content[:500]!r}")
    return reply.parsed


def expect(what, condition):
    if not condition:
        sys.exit(f"openapi-client: FAILED {what}")


def main():
    estate = json.loads(os.environ["AZCOPS_SIM_ESTATE"])
    customer = estate["tenants"][0]
    # Statuses the document does not declare raise instead of parsing as `None`.
    api = AuthenticatedClient(
        base_url=os.environ["AZCOPS_API_URL"],
        token=os.environ["AZCOPS_OPERATOR_TOKEN"],
        raise_on_unexpected_status=True,
    )

    health = check("getHealth", get_health.sync_detailed(client=api), 200)
    expect("health is ok", health.status == "ok" and health.database == "ok")

    tenants = check("listTenants (empty)", list_tenants.sync_detailed(client=api, include_total=True), 200)
    expect("no tenant yet", tenants.total == 0 and tenants.items == [])

    body = CreateTenant(name="OpenAPI customer", azure_tenant_id=uuid.UUID(customer["id"]))
    tenant = check("createTenant", create_tenant.sync_detailed(client=api, body=body), 201)
    expect("the tenant as sent", tenant.name == "OpenAPI customer"
           and str(tenant.azure_tenant_id) == customer["id"] and tenant.is_active)
    check("createTenant again", create_tenant.sync_detailed(client=api, body=body), 409)

    read = check("getTenant", get_tenant.sync_detailed(tenant.id, client=api), 200)
    expect("getTenant reads it back", read.to_dict() == tenant.to_dict())
    check("getTenant (unknown id)", get_tenant.sync_detailed(uuid.uuid4(), client=api), 404)

    tenants = check("listTenants", list_tenants.sync_detailed(client=api, page_size=10, include_total=True), 200)
    expect("listTenants lists it", tenants.total == 1 and tenants.page_size == 10
           and [t.id for t in tenants.items] == [tenant.id])

    azure_sub = uuid.UUID(customer["subscriptions"][0]["id"])
    body = CreateSubscription(subscription_id=azure_sub, display_name="Generated", tenant_id=tenant.id)
    sub = check("createSubscription", create_subscription.sync_detailed(client=api, body=body), 201)
    expect("the subscription as sent", sub.subscription_id == azure_sub and sub.tenant_id == tenant.id)
    read = check("getSubscription", get_subscription.sync_detailed(sub.id, client=api), 200)
    expect("getSubscription reads it back", read.display_name == "Generated")
    subs = check("listSubscriptions",
                 list_subscriptions.sync_detailed(client=api, tenant_id=tenant.id, include_total=True), 200)
    expect("listSubscriptions lists it", subs.total == 1 and subs.items[0].id == sub.id)

    body = TriggerRequest(tenant_id=tenant.id, mode=Mode.COST)
    accepted = check("triggerIngestion", trigger_ingestion.sync_detailed(client=api, body=body), 202)
    expect("one message for the one subscription", accepted.subscriptions == 1)
    check("triggerIngestion again", trigger_ingestion.sync_detailed(client=api, body=body), 409)
    runs = check("listIngestionRuns", list_ingestion_runs.sync_detailed(client=api), 200)
    expect("listIngestionRuns lists the run", [r.id for r in runs.items] == [accepted.run_id])
    run = check("getIngestionRun", get_ingestion_run.sync_detailed(accepted.run_id, client=api), 200)
    expect("the run is the tenant's cost run with one item", run.tenant_id == tenant.id
           and run.mode == Mode.COST and len(run.items) == 1
           and run.items[0].subscription_id == azure_sub)

    # Nothing ingested yet (no handler takes the queue here): empty, but well-formed.
    resources = check("listResources", list_resources.sync_detailed(client=api, include_total=True), 200)
    expect("no resources yet", resources.total == 0)
    costs = check("listCosts", list_costs.sync_detailed(client=api, include_total=True), 200)
    expect("no costs yet", costs.total == 0)
    summary = check("getCostSummary", get_cost_summary.sync_detailed(client=api), 200)
    expect("a 30-day summary", (summary.to - summary.from_).days == 29 and summary.totals == [])

    recommendations(api, tenant.id)
    print("openapi-client: every call of the generated client answered as documented")


def recommendations(api, tenant_id):
    """The recommendation workflow's operations: none to decide on yet, but every shape used."""
    listed = check("listRecommendations", list_recommendations.sync_detailed(
        client=api, tenant_id=tenant_id, status=Status.OPEN, include_suppressed=True, include_total=True), 200)
    expect("no recommendations yet", listed.total == 0)
    summary = check("getRecommendationSummary",
                    get_recommendation_summary.sync_detailed(client=api, tenant_id=tenant_id), 200)
    expect("an empty summary", summary.open_ == [] and summary.realised == [])
    check("getRecommendation (unknown id)", get_recommendation.sync_detailed(uuid.uuid4(), client=api), 404)
    body = TransitionRequest(to=Status.APPROVED, expected_status=Status.OPEN)
    check("transitionRecommendation (unknown id)",
          transition_recommendation.sync_detailed(uuid.uuid4(), client=api, body=body), 404)
    missing = uuid.uuid4()
    bulk = check("transitionRecommendations", transition_recommendations.sync_detailed(
        client=api, body=BulkTransitionRequest(ids=[missing], to=Status.APPROVED)), 200)
    expect("one result, not found", bulk.failed == 1 and bulk.results[0].outcome == "not_found")

    rules = check("listRules", list_rules.sync_detailed(client=api, tenant_id=tenant_id), 200)
    expect("the tenant's defaults", rules.tenant_id == tenant_id
           and rules.settings.required_tag_keys == ["cost-center"])
    settings = check("updateRuleSettings", update_rule_settings.sync_detailed(
        client=api, body=UpdateRuleSettings(tenant_id=tenant_id, min_savings=2.5, owns_licences=True)), 200)
    expect("the settings as sent", settings.min_savings == 2.5 and settings.owns_licences)

    body = CreateSuppression(scope=SuppressionScope.TAG, tag_key="env", tag_value="dev",
                             target=SuppressionTarget.ALL, kind=SuppressionKind.EXCLUDE,
                             reason="dev is rebuilt nightly", tenant_id=tenant_id)
    created = check("createSuppression", create_suppression.sync_detailed(client=api, body=body), 201)
    expect("the suppression as sent", created.tag_key == "env" and created.kind == SuppressionKind.EXCLUDE)
    listed = check("listSuppressions",
                   list_suppressions.sync_detailed(client=api, tenant_id=tenant_id, active=True), 200)
    expect("listSuppressions lists it", [s.id for s in listed.items] == [created.id])
    changed = check("updateSuppression", update_suppression.sync_detailed(
        created.id, client=api, body=UpdateSuppression(reason="dev is rebuilt hourly")), 200)
    expect("the reason changed", changed.reason == "dev is rebuilt hourly")
    body.tag_value = "test"
    second = check("createSuppression (another)", create_suppression.sync_detailed(client=api, body=body), 201)
    paging(api, tenant_id, [second.id, created.id])
    check("deleteSuppression", delete_suppression.sync_detailed(created.id, client=api), 204)
    check("deleteSuppression (another)", delete_suppression.sync_detailed(second.id, client=api), 204)


def paging(api, tenant_id, newest_first):
    """A list read by cursor: a count on request, a cursor's pages uncounted, the last page ends it."""
    first = check("listSuppressions (page 1 of 1 row)", list_suppressions.sync_detailed(
        client=api, tenant_id=tenant_id, page_size=1, include_total=True), 200)
    expect("page 1 is counted and points on", first.page == 1 and first.total == 2
           and first.total_pages == 2 and isinstance(first.next_cursor, str))
    after = check("listSuppressions (cursor)", list_suppressions.sync_detailed(
        client=api, tenant_id=tenant_id, page_size=1, cursor=first.next_cursor), 200)
    expect("the cursor's page is the next, uncounted and the last",
           [s.id for s in first.items + after.items] == newest_first
           and after.page is None and after.total is None and after.next_cursor is None)
    check("listSuppressions (another filter's cursor)", list_suppressions.sync_detailed(
        client=api, tenant_id=tenant_id, active=True, cursor=first.next_cursor), 400)
    check("listSuppressions (garbage cursor)", list_suppressions.sync_detailed(
        client=api, tenant_id=tenant_id, cursor="garbage"), 400)


if __name__ == "__main__":
    main()
