-- The recommendation workflow (PHASE3 §2–§3): rule findings kept by a stable fingerprint next to
-- Advisor's recommendations, the lifecycle with the system's transitions, a per-recommendation
-- timeline, suppressions and per-tenant rule settings.

-- What a rule finding carries besides the columns Advisor rows already have. Advisor rows get
-- `resource_id` and `action` from their next ingestion (no backfill: the next upsert writes them).
ALTER TABLE recommendations
    -- The ARM id of the resource, lower-cased (kept even when the inventory has no such resource).
    ADD COLUMN resource_id           text,
    -- Rule findings: stable over evaluations, from (rule, resource, variant). NULL for Advisor rows.
    ADD COLUMN fingerprint           text CHECK (fingerprint <> ''),
    -- What to do (delete, shutdown, resize, …): with the resource, what groups a rule finding
    -- with Advisor's recommendation about the same thing.
    ADD COLUMN action                text NOT NULL DEFAULT '',
    ADD COLUMN variant               text NOT NULL DEFAULT '',
    -- How the savings were computed (c30, delta, retail, advisor, …).
    ADD COLUMN savings_basis         text NOT NULL DEFAULT '',
    -- The observed values next to the thresholds that fired.
    ADD COLUMN evidence              jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN first_detected_at     timestamptz,
    -- The last evaluation that wrote the finding (new, changed or seen again after an absence):
    -- an unchanged finding is not written, so this is not "last seen"; absent_evaluations = 0 is.
    ADD COLUMN last_detected_at      timestamptz,
    -- Consecutive evaluations of its rule without the finding, counted up to 2 (then resolved).
    ADD COLUMN absent_evaluations    integer NOT NULL DEFAULT 0
        CONSTRAINT recommendations_absent_evaluations CHECK (absent_evaluations BETWEEN 0 AND 2),
    ADD COLUMN resolved_at           timestamptz,
    -- Executed, then found again: the change did not hold.
    ADD COLUMN regressed             boolean NOT NULL DEFAULT false,
    -- A dismissal with an end (a snooze): the recommendation reopens when it passes.
    ADD COLUMN snoozed_until         timestamptz,
    -- When it was approved (cleared if rejected or reopened): an approved finding that resolves
    -- counts towards realised savings.
    ADD COLUMN approved_at           timestamptz,
    ADD COLUMN executed_at           timestamptz,
    -- The change ticket of the execution.
    ADD COLUMN executed_reference    text,
    -- The resource's mean daily amortized cost before the change, from the latest per-resource
    -- cost window that ended before it (NULL: unmeasurable).
    ADD COLUMN baseline_daily_cost   numeric(20, 6),
    ADD COLUMN baseline_currency     text,
    ADD COLUMN baseline_window_start date,
    ADD COLUMN baseline_window_end   date,
    -- The rule finding that leads this Advisor recommendation's group (excluded from totals).
    ADD COLUMN superseded_by         uuid,
    -- Governance findings have no savings.
    ALTER COLUMN estimated_monthly_savings DROP NOT NULL;

ALTER TABLE recommendations DISABLE TRIGGER recommendations_set_updated_at;
UPDATE recommendations SET first_detected_at = created_at, last_detected_at = updated_at;
ALTER TABLE recommendations ENABLE TRIGGER recommendations_set_updated_at;
ALTER TABLE recommendations
    ALTER COLUMN first_detected_at SET NOT NULL,
    ALTER COLUMN first_detected_at SET DEFAULT now(),
    ALTER COLUMN last_detected_at SET NOT NULL,
    ALTER COLUMN last_detected_at SET DEFAULT now(),
    -- Lets the timeline and groups reference (tenant_id, id), so they stay within one tenant.
    ADD CONSTRAINT recommendations_tenant_id_id_key UNIQUE (tenant_id, id),
    ADD CONSTRAINT recommendations_fingerprint_key UNIQUE (tenant_id, subscription_db_id, source, fingerprint),
    ADD CONSTRAINT recommendations_superseded_by_fkey FOREIGN KEY (tenant_id, superseded_by)
        REFERENCES recommendations (tenant_id, id),
    ADD CONSTRAINT recommendations_not_superseded_by_itself CHECK (superseded_by <> id),
    ADD CONSTRAINT recommendations_snooze_only_dismissed CHECK (snoozed_until IS NULL OR status = 'dismissed'),
    ADD CONSTRAINT recommendations_resolved_at CHECK (status <> 'resolved' OR resolved_at IS NOT NULL);

CREATE INDEX recommendations_group_idx ON recommendations (subscription_db_id, resource_id, action);
CREATE INDEX recommendations_snoozed_idx ON recommendations (snoozed_until) WHERE status = 'dismissed';
CREATE INDEX recommendations_superseded_by_idx ON recommendations (tenant_id, superseded_by)
    WHERE superseded_by IS NOT NULL;

-- The lifecycle (PHASE3 §3). People: open → approved | rejected | dismissed, approved → rejected
-- | executed, dismissed | rejected → open. The system only (a transaction that set
-- azcops.system_transition): open | approved | rejected → resolved, resolved | executed → open.
-- Leaving a state drops what belonged to it; a reopened execution is flagged regressed.
CREATE OR REPLACE FUNCTION recommendations_check_status() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    by_system boolean := coalesce(current_setting('azcops.system_transition', true), '') = 'on';
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'open' THEN
            RAISE EXCEPTION 'a new recommendation must be open, not %', NEW.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'recommendations_status_transition';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.status = OLD.status THEN
        RETURN NEW;
    END IF;
    IF NOT ((OLD.status::text, NEW.status::text) IN (
                ('open', 'approved'), ('open', 'rejected'), ('approved', 'rejected'),
                ('open', 'dismissed'), ('dismissed', 'open'), ('rejected', 'open'),
                ('approved', 'executed'))
            OR by_system AND (OLD.status::text, NEW.status::text) IN (
                ('open', 'resolved'), ('approved', 'resolved'), ('rejected', 'resolved'),
                ('resolved', 'open'), ('executed', 'open'))) THEN
        RAISE EXCEPTION 'recommendation status cannot change from % to %', OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'recommendations_status_transition';
    END IF;
    IF NEW.status = 'executed' AND coalesce(btrim(NEW.executed_reference), '') = '' THEN
        RAISE EXCEPTION 'an executed recommendation needs the reference of its change'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'recommendations_executed_reference';
    END IF;
    IF OLD.status = 'executed' AND NEW.status = 'open' THEN
        NEW.regressed := true;
    END IF;
    IF NEW.status = 'resolved' THEN
        NEW.resolved_at := coalesce(NEW.resolved_at, now());
    ELSE
        NEW.resolved_at := NULL;
    END IF;
    IF NEW.status <> 'dismissed' THEN
        NEW.snoozed_until := NULL;
    END IF;
    IF NEW.status IN ('open', 'rejected') THEN
        NEW.approved_at := NULL;
    END IF;
    RETURN NEW;
END
$$;

-- Each status change of a recommendation, oldest first: who (a principal or `system`), when,
-- from, to, why. The same change is also in audit_logs. Rows are never changed.
CREATE TABLE recommendation_events (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id         uuid NOT NULL,
    recommendation_id uuid NOT NULL,
    at                timestamptz NOT NULL,
    actor             text NOT NULL CHECK (actor <> ''),
    -- decision (a person's), resolved, reopened, snooze_expired (the system's).
    kind              text NOT NULL CHECK (kind IN ('decision', 'resolved', 'reopened', 'snooze_expired')),
    from_status       recommendation_status NOT NULL,
    to_status         recommendation_status NOT NULL,
    reason            text,
    -- until, reference, regressed, … as the transition had them.
    details           jsonb NOT NULL DEFAULT '{}'::jsonb,
    correlation_id    text,
    CONSTRAINT recommendation_events_recommendation_fkey FOREIGN KEY (tenant_id, recommendation_id)
        REFERENCES recommendations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX recommendation_events_recommendation_idx
    ON recommendation_events (tenant_id, recommendation_id, id);

-- Findings hidden from lists and totals (they keep their state). Scope: the whole tenant, one
-- subscription, a resource group (in one subscription or, without one, by name in all), one
-- resource, or resources carrying a tag key=value (on the resource, its group or subscription).
-- Target: one rule, a category or every rule. An exclusion lasts until removed; a snooze until
-- expires_at.
CREATE TABLE suppressions (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id          uuid NOT NULL
                       CONSTRAINT suppressions_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    scope              text NOT NULL
                       CHECK (scope IN ('tenant', 'subscription', 'resource_group', 'resource', 'tag')),
    subscription_db_id uuid,
    resource_group     text CHECK (resource_group <> ''),
    resource_id        text CHECK (resource_id <> ''),
    tag_key            text CHECK (tag_key <> ''),
    tag_value          text,
    target             text NOT NULL CHECK (target IN ('rule', 'category', 'all')),
    rule_id            text CHECK (rule_id <> ''),
    category           text CHECK (category <> ''),
    kind               text NOT NULL CHECK (kind IN ('exclude', 'snooze')),
    expires_at         timestamptz,
    reason             text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 2000),
    author             text NOT NULL CHECK (author <> ''),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT suppressions_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT suppressions_scope_fields CHECK (CASE scope
        WHEN 'tenant' THEN subscription_db_id IS NULL AND resource_group IS NULL AND resource_id IS NULL AND tag_key IS NULL
        WHEN 'subscription' THEN subscription_db_id IS NOT NULL AND resource_group IS NULL AND resource_id IS NULL AND tag_key IS NULL
        WHEN 'resource_group' THEN resource_group IS NOT NULL AND resource_id IS NULL AND tag_key IS NULL
        WHEN 'resource' THEN resource_id IS NOT NULL AND resource_group IS NULL AND tag_key IS NULL
        ELSE tag_key IS NOT NULL AND tag_value IS NOT NULL AND resource_group IS NULL AND resource_id IS NULL END),
    CONSTRAINT suppressions_target_fields CHECK (CASE target
        WHEN 'rule' THEN rule_id IS NOT NULL AND category IS NULL
        WHEN 'category' THEN category IS NOT NULL AND rule_id IS NULL
        ELSE rule_id IS NULL AND category IS NULL END),
    CONSTRAINT suppressions_snooze_expires CHECK ((kind = 'snooze') = (expires_at IS NOT NULL))
);
CREATE INDEX suppressions_tenant_idx ON suppressions (tenant_id);
CREATE TRIGGER suppressions_set_updated_at BEFORE UPDATE ON suppressions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Per-tenant settings of one rule; a rule without a row runs with its defaults.
CREATE TABLE rule_settings (
    tenant_id  uuid NOT NULL
               CONSTRAINT rule_settings_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    rule_id    text NOT NULL CHECK (rule_id <> ''),
    enabled    boolean NOT NULL DEFAULT true,
    -- Only the thresholds the tenant changed, by name.
    thresholds jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(thresholds) = 'object'),
    updated_by text NOT NULL CHECK (updated_by <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, rule_id)
);
CREATE TRIGGER rule_settings_set_updated_at BEFORE UPDATE ON rule_settings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Tenant-wide rule settings; a tenant without a row has the defaults.
CREATE TABLE tenant_rule_settings (
    tenant_id         uuid PRIMARY KEY
                      CONSTRAINT tenant_rule_settings_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    -- No cost finding worth less a month is emitted (in the billing currency).
    min_savings       numeric(20, 6) NOT NULL DEFAULT 1 CHECK (min_savings >= 0),
    -- Tag keys every resource must carry (itself or through its group or subscription).
    required_tag_keys text[] NOT NULL DEFAULT ARRAY['cost-center']::text[]
                      CHECK (array_position(required_tag_keys, NULL) IS NULL),
    -- The tenant owns Windows Server / SQL Server licences (Azure Hybrid Benefit rules).
    owns_licences     boolean NOT NULL DEFAULT false,
    updated_by        text NOT NULL CHECK (updated_by <> ''),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER tenant_rule_settings_set_updated_at BEFORE UPDATE ON tenant_rule_settings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The recommendations hidden at `p_at` (within what the transaction may see): those an active
-- suppression matches, and the findings of rules their tenant disabled. A set, not a test per
-- row: queries use it as `id NOT IN (SELECT id FROM recommendations_hidden(…))`, which PostgreSQL
-- inlines and hashes once, and a correlated `EXISTS (… WHERE h.id = r.id)` for one row.
CREATE FUNCTION recommendations_hidden(p_at timestamptz) RETURNS TABLE (id uuid)
LANGUAGE sql STABLE AS $$
    SELECT r.id
    FROM suppressions s
    JOIN recommendations r ON r.tenant_id = s.tenant_id
    LEFT JOIN resources res ON res.id = r.resource_db_id
    WHERE (s.kind = 'exclude' OR s.expires_at > p_at)
      AND CASE s.target WHEN 'rule' THEN r.rule_id = s.rule_id
                        WHEN 'category' THEN r.category = s.category
                        ELSE true END
      AND CASE s.scope
            WHEN 'tenant' THEN true
            WHEN 'subscription' THEN r.subscription_db_id = s.subscription_db_id
            WHEN 'resource_group' THEN coalesce(res.resource_group = s.resource_group, false)
                 AND (s.subscription_db_id IS NULL OR r.subscription_db_id = s.subscription_db_id)
            WHEN 'resource' THEN coalesce(r.resource_id = s.resource_id, false)
            ELSE coalesce(res.tags ->> s.tag_key = s.tag_value, false)
                 OR EXISTS (SELECT 1 FROM resource_containers c
                            WHERE c.tenant_id = r.tenant_id AND c.subscription_db_id = r.subscription_db_id
                              AND (c.kind = 'subscription'
                                   OR c.kind = 'resource_group' AND c.resource_group = res.resource_group)
                              AND c.tags ->> s.tag_key = s.tag_value)
          END
    UNION
    SELECT r.id
    FROM rule_settings rs
    JOIN recommendations r ON r.tenant_id = rs.tenant_id AND r.rule_id = rs.rule_id AND r.source = 'rule'
    WHERE NOT rs.enabled
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON suppressions, rule_settings, tenant_rule_settings TO azcops_app;
GRANT SELECT, INSERT ON recommendation_events TO azcops_app;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['recommendation_events', 'suppressions', 'rule_settings', 'tenant_rule_settings']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY %I ON %I '
            'USING ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant())) '
            'WITH CHECK ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()))',
            t || '_isolation', t);
    END LOOP;
END
$$;
