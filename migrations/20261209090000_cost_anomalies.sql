-- Cost anomalies (issue 17): what detection found in a subscription's daily amortized cost
-- (its total, service_name = '', or one of its main services), with the contributors that
-- explain it, and the tenant's detection thresholds.

CREATE TABLE cost_anomalies (
    id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    -- '' for the subscription's total series, else the service's.
    service_name       text NOT NULL,
    start_date         date NOT NULL,
    end_date           date NOT NULL,
    peak_date          date NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('spike', 'drop', 'level_shift_up', 'level_shift_down')),
    severity           text NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'expected')),
    -- Touches one of the two most recent days: re-scored by the next detection.
    provisional        boolean NOT NULL,
    score              double precision NOT NULL,
    currency           text NOT NULL,
    actual             numeric(20, 6) NOT NULL,
    expected           numeric(20, 6) NOT NULL,
    contributors       jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(contributors) = 'array'),
    new_resources      jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(new_resources) = 'array'),
    status_reason      text,
    status_changed_by  text,
    status_changed_at  timestamptz,
    detected_at        timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT cost_anomalies_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT cost_anomalies_series_start_key UNIQUE (tenant_id, subscription_db_id, service_name, start_date),
    CONSTRAINT cost_anomalies_dates CHECK (start_date <= peak_date AND peak_date <= end_date)
);
CREATE INDEX cost_anomalies_list_idx ON cost_anomalies (tenant_id, end_date DESC, id DESC);
CREATE TRIGGER cost_anomalies_set_updated_at BEFORE UPDATE ON cost_anomalies
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- A tenant's detection thresholds; a tenant without a row has the defaults.
CREATE TABLE cost_anomaly_settings (
    tenant_id     uuid PRIMARY KEY
                  CONSTRAINT cost_anomaly_settings_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    z_threshold   double precision NOT NULL DEFAULT 3.5 CHECK (z_threshold > 0),
    -- Smallest absolute deviation of a day, in the subscription's currency.
    min_abs_delta numeric(20, 6) NOT NULL DEFAULT 10 CHECK (min_abs_delta >= 0),
    -- Smallest relative deviation of a day (0.2 = 20 %).
    min_rel_delta double precision NOT NULL DEFAULT 0.2 CHECK (min_rel_delta >= 0),
    updated_by    text NOT NULL CHECK (updated_by <> ''),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER cost_anomaly_settings_set_updated_at BEFORE UPDATE ON cost_anomaly_settings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

GRANT SELECT, INSERT, UPDATE, DELETE ON cost_anomalies, cost_anomaly_settings TO azcops_app;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['cost_anomalies', 'cost_anomaly_settings']
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
