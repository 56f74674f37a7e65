-- Recommendations with their status machine, and the append-only audit log.

CREATE TYPE recommendation_status AS ENUM ('open', 'approved', 'rejected', 'dismissed', 'executed');
CREATE TYPE level AS ENUM ('low', 'medium', 'high');

CREATE TABLE recommendations (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id                 uuid NOT NULL,
    subscription_db_id        uuid NOT NULL,
    resource_db_id            uuid REFERENCES resources (id) ON DELETE SET NULL,
    rule_id                   text NOT NULL CHECK (rule_id <> ''),
    source                    text NOT NULL DEFAULT 'rule' CHECK (source IN ('rule', 'advisor')),
    external_id               text,
    category                  text NOT NULL,
    title                     text NOT NULL,
    description               text,
    estimated_monthly_savings numeric(20, 6) NOT NULL DEFAULT 0 CHECK (estimated_monthly_savings >= 0),
    currency                  text NOT NULL DEFAULT 'USD',
    confidence_score          numeric(4, 3) NOT NULL CHECK (confidence_score BETWEEN 0 AND 1),
    risk_level                level NOT NULL DEFAULT 'low',
    effort_level              level NOT NULL DEFAULT 'low',
    status                    recommendation_status NOT NULL DEFAULT 'open',
    details                   jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT recommendations_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT recommendations_external_key UNIQUE (subscription_db_id, source, external_id)
);
CREATE INDEX recommendations_tenant_status_idx ON recommendations (tenant_id, status);
CREATE TRIGGER recommendations_set_updated_at BEFORE UPDATE ON recommendations
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- open → approved → executed; open → rejected → open; open → dismissed → open; approved → rejected.
CREATE FUNCTION recommendations_check_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'open' THEN
            RAISE EXCEPTION 'a new recommendation must be open, not %', NEW.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'recommendations_status_transition';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.status = OLD.status OR (OLD.status, NEW.status) IN (
        ('open'::recommendation_status, 'approved'::recommendation_status),
        ('approved', 'executed'),
        ('open', 'rejected'),
        ('rejected', 'open'),
        ('open', 'dismissed'),
        ('dismissed', 'open'),
        ('approved', 'rejected')
    ) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'recommendation status cannot change from % to %', OLD.status, NEW.status
        USING ERRCODE = 'check_violation', CONSTRAINT = 'recommendations_status_transition';
END
$$;
CREATE TRIGGER recommendations_status_transition BEFORE INSERT OR UPDATE OF status ON recommendations
    FOR EACH ROW EXECUTE FUNCTION recommendations_check_status();

-- Who did what to which object, with the before and after images in `metadata`.
-- Rows are never changed, so there is no updated_at.
CREATE TABLE audit_logs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      uuid,
    action         text NOT NULL CHECK (action <> ''),
    actor          text NOT NULL CHECK (actor <> ''),
    target_type    text NOT NULL,
    target_id      text NOT NULL,
    metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
    correlation_id text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_logs_tenant_created_idx ON audit_logs (tenant_id, created_at);
CREATE INDEX audit_logs_target_idx ON audit_logs (target_type, target_id);

CREATE FUNCTION audit_logs_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_refuse_change();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_refuse_change();
