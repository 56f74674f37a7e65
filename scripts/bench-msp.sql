-- The MSP-sized database of issue 15, generated in PostgreSQL (no ingestion): run by
-- `scripts/bench msp` (scripts/bench-run) on a fresh database that has every migration applied,
-- as the login user (postgres, a superuser: row-level security does not apply to it).
--
--   psql -v ON_ERROR_STOP=1 -v tenants=200 -v resources=1000000 -v days=730 \
--        -v recommendations=500000 -d azcops_bench_msp -f scripts/bench-msp.sql
--
-- What it writes (sizes for the defaults above):
--   tenants          200, sizes skewed (the i-th has a share ∝ i^-0.8: the largest ~10 % of the
--                    resources, the 100th ~0.25 %); one tenant in ten bills in EUR, the rest in USD
--   subscriptions    one per 2,000 resources of a tenant (at least one)
--   resources        1,000,000: 23 types in realistic proportions (disks, VMs, NICs first), 9
--                    regions (each tenant has a home region holding ~60 % of its resources),
--                    resource groups of ~100 resources, tags as ingestion stores them (a JSON
--                    object: environment, cost-center, owner, application, managed-by, each on
--                    a share of the resources), sku and a small `properties` per type, 2 % deleted
--   resource_containers  every subscription and resource group, with tags
--   costs_daily      `days` days ending yesterday, one row per subscription × resource group ×
--                    service (4 services per group, 12 in all) × day: ~30 M rows, weekly cycle
--                    and a slow trend; through the partitioned table (monthly partitions created
--                    by azcops_ensure_cost_partitions, as the application does)
--   rollups          costs_daily_by_service, costs_daily_totals, costs_monthly_by_service and
--                    their tenant-level twins costs_tenant_daily_by_service,
--                    costs_tenant_daily_totals, costs_tenant_monthly_by_service, and the
--                    all-tenant costs_all_tenants_daily_by_service and _monthly_by_service:
--                    REBUILT ONCE after the bulk load, with the GROUP BYs the migrations use for
--                    existing rows (20261207100000 from costs_daily, 20261215100000 the tenant
--                    ones from the per-subscription ones; the statement triggers are off during
--                    the load: session_replication_role = replica), then checked against
--                    costs_daily
--   resource_costs   the per-resource cost windows: the two latest daily windows (30 days
--                    ending D-3 and D-4) of every costed resource, plus each subscription's
--                    charges without a resource
--   resource_metrics 14-day statistics of every VM (3 metrics), scale set (2), disk (4),
--                    App Service plan (2) and SQL database (2): 92 % data, 6 % no_data, 2 % failed
--   recommendations  `recommendations` rows: 70 % rule findings (the catalogue's 28 rules, on
--                    resources of their types; tag.missing on resources without cost-center),
--                    30 % Advisor (VM right-size/shutdown, unattached disks, reservations), in
--                    the columns and JSON shapes the pipeline writes; Advisor rows about the same
--                    resource and action as a rule finding are superseded by it; statuses:
--                    80 % open, the rest dismissed/approved/rejected/executed/resolved
--   suppressions, rule_settings  a few per tenant (resource-group exclusions, tag snoozes,
--                    a disabled rule), so the hidden-recommendations set is not empty
--   recommendation_summary_cells, recommendation_tenant_summary_cells  the summary's cells per
--                    subscription and per tenant: REBUILT ONCE after the load with the GROUP BYs
--                    of their migrations (the triggers that keep them are off during the load),
--                    then checked against recommendations
--   recommendation_realised_cells  the realised savings' cells per tenant: REBUILT ONCE the same
--                    way (every changed recommendation not measured yet)
-- Then VACUUM ANALYZE. Pseudo-random choices come from md5 of row numbers: the same database
-- every time for the same sizes.

\set ON_ERROR_STOP 1
\timing off
SET client_min_messages = warning;
-- Bulk load: no triggers (rollups, updated_at, status checks) and no foreign-key checks (the
-- rows are generated consistent); the rollups are rebuilt below.
SET session_replication_role = replica;
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';
SET work_mem = '256MB';
SET jit = off;
-- The partition functions act for the operator.
SELECT set_config('azcops.operator', 'on', false) \gset

-- A pseudo-random number in [0, 1) from a text key (part `k` of its md5, 0-3).
CREATE FUNCTION pg_temp.u(key text, k integer DEFAULT 0) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT ('x' || substr(md5(key), 1 + 8 * k, 8))::bit(32)::bigint / 4294967296.0
$$;
-- The same from a number, cheaper (for the 30 M cost rows).
CREATE FUNCTION pg_temp.h(n bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT ((n * 2654435761 + 40503) % 4294967296) / 4294967296.0
$$;
CREATE FUNCTION pg_temp.id(prefix text, n bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
    SELECT (prefix || '-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid
$$;

\echo msp: tenants and subscriptions
CREATE TEMP TABLE msp_region (no integer PRIMARY KEY, name text, share double precision);
INSERT INTO msp_region VALUES
    (0, 'westeurope', 0.30), (1, 'eastus', 0.18), (2, 'northeurope', 0.15), (3, 'eastus2', 0.10),
    (4, 'westus2', 0.08), (5, 'uksouth', 0.07), (6, 'southeastasia', 0.05),
    (7, 'germanywestcentral', 0.04), (8, 'francecentral', 0.03);

CREATE TEMP TABLE msp_tenant AS
WITH w AS (SELECT t, power(t, -0.8) AS w FROM generate_series(1, :tenants) t)
SELECT t AS tenant_no,
       pg_temp.id('10000000', t) AS tenant_id,
       pg_temp.id('20000000', t) AS azure_tenant_id,
       greatest(20, round(:resources * w / sum(w) OVER ()))::integer AS n_res,
       CASE WHEN t % 10 = 7 THEN 'EUR' ELSE 'USD' END AS currency,
       -- Home region: weighted by the regions' shares.
       (SELECT r.no FROM msp_region r
        WHERE (SELECT sum(share) FROM msp_region r2 WHERE r2.no <= r.no) > pg_temp.u('home' || t)
        ORDER BY r.no LIMIT 1) AS home_region
FROM w;

INSERT INTO tenants (id, name, azure_tenant_id, type, created_at, updated_at)
SELECT tenant_id, format('MSP customer %s', lpad(tenant_no::text, 3, '0')), azure_tenant_id,
       'external', now() - interval '800 days', now() - interval '800 days'
FROM msp_tenant;

CREATE TEMP TABLE msp_sub AS
WITH k AS (SELECT t.*, greatest(1, ceil(n_res / 2000.0))::integer AS subs FROM msp_tenant t),
s AS (SELECT k.*, j AS sub_in_tenant,
             (n_res / subs + CASE WHEN j <= n_res % subs THEN 1 ELSE 0 END) AS sub_res
      FROM k, generate_series(1, k.subs) j)
SELECT row_number() OVER (ORDER BY tenant_no, sub_in_tenant) AS sub_no, s.*
FROM s;
ALTER TABLE msp_sub ADD COLUMN sub_id uuid, ADD COLUMN azure_sub uuid, ADD COLUMN res_base bigint,
    ADD COLUMN n_rg integer;
UPDATE msp_sub SET sub_id = pg_temp.id('30000000', sub_no), azure_sub = pg_temp.id('40000000', sub_no),
                   n_rg = greatest(1, ceil(sub_res / 100.0))::integer;
UPDATE msp_sub m SET res_base = x.base
FROM (SELECT sub_no, coalesce(sum(sub_res) OVER (ORDER BY sub_no ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS base
      FROM msp_sub) x
WHERE x.sub_no = m.sub_no;
CREATE UNIQUE INDEX ON msp_sub (sub_no);
ANALYZE msp_sub;

INSERT INTO subscriptions (id, tenant_id, subscription_id, display_name, is_active, created_at, updated_at)
SELECT sub_id, tenant_id, azure_sub,
       format('customer-%s-%s', lpad(tenant_no::text, 3, '0'),
              (ARRAY['prod', 'dev', 'shared', 'test', 'data'])[1 + (sub_in_tenant - 1) % 5]
              || CASE WHEN sub_in_tenant > 5 THEN '-' || sub_in_tenant ELSE '' END),
       true, now() - interval '800 days', now() - interval '1 day'
FROM msp_sub;

-- Resource groups: ~100 resources each, named after an application.
CREATE TEMP TABLE msp_rg AS
SELECT s.sub_no, g AS rg_no,
       format('rg-%s-%s', (ARRAY['app', 'data', 'web', 'shared', 'net', 'ops', 'ml', 'batch', 'erp', 'crm'])[1 + (g + s.sub_no) % 10],
              lpad(g::text, 3, '0')) AS name,
       (ARRAY['billing', 'portal', 'crm', 'erp', 'analytics', 'search', 'identity', 'payments'])[1 + (g * 7 + s.tenant_no) % 8] AS app
FROM msp_sub s, generate_series(0, s.n_rg - 1) g;
CREATE UNIQUE INDEX ON msp_rg (sub_no, rg_no);
ANALYZE msp_rg;

\echo msp: resources
-- Resource types with their share of an estate, the cost service Cost Management books them
-- under (NULL: free), their metric kind and the rules that judge them.
CREATE TEMP TABLE msp_type (no integer PRIMARY KEY, type text, share double precision, prefix text,
                            service text);
INSERT INTO msp_type VALUES
    (0, 'microsoft.compute/disks', 0.22, 'disk', 'Storage'),
    (1, 'microsoft.compute/virtualmachines', 0.18, 'vm', 'Virtual Machines'),
    (2, 'microsoft.network/networkinterfaces', 0.15, 'nic', NULL),
    (3, 'microsoft.storage/storageaccounts', 0.07, 'st', 'Storage'),
    (4, 'microsoft.network/publicipaddresses', 0.06, 'pip', 'Virtual Network'),
    (5, 'microsoft.network/networksecuritygroups', 0.05, 'nsg', NULL),
    (6, 'microsoft.compute/snapshots', 0.05, 'snap', 'Storage'),
    (7, 'microsoft.web/sites', 0.05, 'app', 'Azure App Service'),
    (8, 'microsoft.web/serverfarms', 0.03, 'plan', 'Azure App Service'),
    (9, 'microsoft.sql/servers/databases', 0.03, 'sqldb', 'SQL Database'),
    (10, 'microsoft.network/virtualnetworks', 0.03, 'vnet', NULL),
    (11, 'microsoft.keyvault/vaults', 0.02, 'kv', 'Key Vault'),
    (12, 'microsoft.compute/virtualmachinescalesets', 0.01, 'vmss', 'Virtual Machines'),
    (13, 'microsoft.network/loadbalancers', 0.01, 'lb', 'Load Balancer'),
    (14, 'microsoft.insights/components', 0.01, 'appi', 'Azure Monitor'),
    (15, 'microsoft.network/privateendpoints', 0.01, 'pe', 'Virtual Network'),
    (16, 'microsoft.sql/servers/elasticpools', 0.005, 'pool', 'SQL Database'),
    (17, 'microsoft.network/applicationgateways', 0.004, 'agw', 'Application Gateway'),
    (18, 'microsoft.network/natgateways', 0.003, 'nat', 'Virtual Network'),
    (19, 'microsoft.network/virtualnetworkgateways', 0.003, 'vgw', 'VPN Gateway'),
    (20, 'microsoft.containerservice/managedclusters', 0.003, 'aks', 'Azure Kubernetes Service'),
    (21, 'microsoft.network/ddosprotectionplans', 0.001, 'ddos', 'Azure DDOS Protection'),
    (22, 'microsoft.network/expressroutecircuits', 0.001, 'erc', 'ExpressRoute');
CREATE TEMP TABLE msp_type_cum AS
SELECT no, type, prefix, service,
       sum(share) OVER (ORDER BY no) / (SELECT sum(share) FROM msp_type) AS hi
FROM msp_type;

CREATE TEMP TABLE msp_region_cum AS
SELECT no, name, sum(share) OVER (ORDER BY no) / (SELECT sum(share) FROM msp_region) AS hi FROM msp_region;

-- One row per resource: its choices, kept for the tables that follow.
CREATE TEMP TABLE msp_res0 AS
SELECT b.sub_no, b.tenant_no, b.tenant_id, b.sub_id, b.azure_sub, b.currency, b.g, b.m,
       (SELECT t.no FROM msp_type_cum t WHERE t.hi > b.u0 ORDER BY t.no LIMIT 1) AS type_no,
       CASE WHEN b.u1 < 0.6 THEN b.home_region
            ELSE (SELECT x.no FROM msp_region_cum x WHERE x.hi > b.u2 ORDER BY x.no LIMIT 1) END AS region,
       floor(b.u3 * b.n_rg)::integer AS rg_no,
       (b.g % 50 = 0) AS deleted
FROM (SELECT a.*, pg_temp.u(a.m, 0) AS u0, pg_temp.u(a.m, 1) AS u1, pg_temp.u(a.m, 2) AS u2,
             pg_temp.u(a.m, 3) AS u3
      FROM (SELECT s.sub_no, s.tenant_no, s.tenant_id, s.sub_id, s.azure_sub, s.currency, s.home_region, s.n_rg,
                   s.res_base + j AS g, md5('r' || (s.res_base + j)) AS m
            FROM msp_sub s, generate_series(1, s.sub_res) j) a
      OFFSET 0) b;
CREATE TEMP TABLE msp_res AS
SELECT r.*, lower(format('/subscriptions/%s/resourcegroups/%s/providers/%s/%s-%s',
                         r.azure_sub, g.name, t.type, t.prefix, r.g)) AS resource_id
FROM msp_res0 r
JOIN msp_rg g ON g.sub_no = r.sub_no AND g.rg_no = r.rg_no
JOIN msp_type t ON t.no = r.type_no;
DROP TABLE msp_res0;
CREATE INDEX ON msp_res (g);
ANALYZE msp_res;

INSERT INTO resources (tenant_id, subscription_db_id, subscription_id, resource_id, name, type, kind,
                       location, resource_group, sku, tags, properties, first_seen_at, last_seen_at,
                       deleted_at, created_at, updated_at)
SELECT r.tenant_id, r.sub_id, r.azure_sub, r.resource_id, t.prefix || '-' || r.g, t.type,
       CASE t.type WHEN 'microsoft.web/sites' THEN 'app,linux' WHEN 'microsoft.storage/storageaccounts' THEN 'StorageV2' END,
       x.name, g.name,
       CASE t.type
           WHEN 'microsoft.compute/virtualmachines' THEN jsonb_build_object('name', vm_size)
           WHEN 'microsoft.compute/disks' THEN jsonb_build_object('name', disk_sku, 'tier', split_part(disk_sku, '_', 1))
           WHEN 'microsoft.compute/snapshots' THEN jsonb_build_object('name', disk_sku, 'tier', split_part(disk_sku, '_', 1))
           WHEN 'microsoft.storage/storageaccounts' THEN '{"name": "Standard_LRS", "tier": "Standard"}'::jsonb
           WHEN 'microsoft.network/publicipaddresses' THEN '{"name": "Standard", "tier": "Regional"}'::jsonb
           WHEN 'microsoft.web/serverfarms' THEN jsonb_build_object('name', plan_sku, 'tier', 'Standard', 'capacity', 1 + r.g % 3)
           WHEN 'microsoft.sql/servers/databases' THEN '{"name": "S1", "tier": "Standard", "capacity": 20}'::jsonb
           WHEN 'microsoft.compute/virtualmachinescalesets' THEN jsonb_build_object('name', vm_size, 'tier', 'Standard', 'capacity', 2 + r.g % 6)
       END,
       jsonb_strip_nulls(jsonb_build_object(
           'environment', CASE WHEN u4 < 0.40 THEN 'prod' WHEN u4 < 0.65 THEN 'dev' WHEN u4 < 0.80 THEN 'test'
                               WHEN u4 < 0.90 THEN 'staging' END,
           'cost-center', CASE WHEN u5 < 0.75 THEN 'cc-' || lpad(((r.tenant_no * 31 + r.rg_no) % 40)::text, 4, '0') END,
           'owner', CASE WHEN u5 > 0.5 THEN 'team-' || ((r.rg_no * 7 + r.tenant_no) % 25) END,
           'application', CASE WHEN u6 < 0.6 THEN g.app END,
           'managed-by', CASE WHEN u7 < 0.2 THEN 'terraform' END)),
       CASE t.type
           WHEN 'microsoft.compute/virtualmachines' THEN jsonb_build_object(
               'hardwareProfile', jsonb_build_object('vmSize', vm_size),
               'storageProfile', jsonb_build_object('osDisk', jsonb_build_object('osType', CASE WHEN r.g % 4 = 0 THEN 'Windows' ELSE 'Linux' END)),
               'provisioningState', 'Succeeded',
               'extended', jsonb_build_object('instanceView', jsonb_build_object('powerState', jsonb_build_object(
                   'code', CASE WHEN r.g % 9 = 0 THEN 'PowerState/deallocated' ELSE 'PowerState/running' END))))
           WHEN 'microsoft.compute/disks' THEN jsonb_build_object(
               'diskSizeGB', (ARRAY[32, 64, 128, 256, 512, 1024])[1 + r.g % 6],
               'diskState', CASE WHEN r.g % 12 = 0 THEN 'Unattached' ELSE 'Attached' END,
               'provisioningState', 'Succeeded', 'timeCreated', (now() - (r.g % 700) * interval '1 day')::text)
           WHEN 'microsoft.network/publicipaddresses' THEN jsonb_build_object(
               'publicIPAllocationMethod', 'Static', 'provisioningState', 'Succeeded')
           WHEN 'microsoft.web/serverfarms' THEN jsonb_build_object('numberOfSites', r.g % 5, 'status', 'Ready')
           ELSE jsonb_build_object('provisioningState', 'Succeeded')
       END,
       now() - ((r.g % 700) + 30) * interval '1 day', now() - interval '1 day',
       CASE WHEN r.deleted THEN now() - (r.g % 60) * interval '1 day' END,
       now() - ((r.g % 700) + 30) * interval '1 day', now() - interval '1 day'
FROM msp_res r
JOIN msp_type t ON t.no = r.type_no
JOIN msp_region x ON x.no = r.region
JOIN msp_rg g ON g.sub_no = r.sub_no AND g.rg_no = r.rg_no
CROSS JOIN LATERAL (SELECT pg_temp.u(r.m || 't', 0) AS u4, pg_temp.u(r.m || 't', 1) AS u5,
                           pg_temp.u(r.m || 't', 2) AS u6, pg_temp.u(r.m || 't', 3) AS u7,
                           (ARRAY['Standard_D2s_v3', 'Standard_D4s_v3', 'Standard_B2ms', 'Standard_E4s_v3',
                                  'Standard_D8s_v5', 'Standard_F4s_v2'])[1 + r.g % 6] AS vm_size,
                           (ARRAY['Premium_LRS', 'StandardSSD_LRS', 'Standard_LRS'])[1 + r.g % 3] AS disk_sku,
                           (ARRAY['S1', 'P1v3', 'B1', 'P2v3'])[1 + r.g % 4] AS plan_sku) v;

INSERT INTO resource_containers (tenant_id, subscription_db_id, container_id, kind, resource_group,
                                 name, tags, last_seen_at)
SELECT s.tenant_id, s.sub_id, lower('/subscriptions/' || s.azure_sub), 'subscription', '',
       s.azure_sub::text, jsonb_build_object('cost-center', 'cc-' || lpad((s.tenant_no % 40)::text, 4, '0')),
       now() - interval '1 day'
FROM msp_sub s
UNION ALL
SELECT s.tenant_id, s.sub_id, lower(format('/subscriptions/%s/resourcegroups/%s', s.azure_sub, g.name)),
       'resource_group', g.name, g.name,
       jsonb_build_object('application', g.app) || CASE WHEN g.rg_no % 3 = 0 THEN '{"environment": "prod"}'::jsonb ELSE '{}' END,
       now() - interval '1 day'
FROM msp_sub s JOIN msp_rg g ON g.sub_no = s.sub_no;

\echo msp: daily costs
SELECT azcops_ensure_cost_partitions((current_date - :days - 31)::date, (current_date + interval '3 months')::date) AS partitions_created;

-- Twelve services and their meter categories; each resource group books four of them.
CREATE TEMP TABLE msp_service (no integer PRIMARY KEY, service text, meter text, weight double precision);
INSERT INTO msp_service VALUES
    (0, 'Virtual Machines', 'Virtual Machines', 3.0), (1, 'Storage', 'Storage', 1.2),
    (2, 'Azure App Service', 'Azure App Service', 1.0), (3, 'SQL Database', 'SQL Database', 1.5),
    (4, 'Virtual Network', 'Virtual Network', 0.3), (5, 'Bandwidth', 'Bandwidth', 0.2),
    (6, 'Azure Monitor', 'Azure Monitor', 0.25), (7, 'Key Vault', 'Key Vault', 0.05),
    (8, 'Azure Kubernetes Service', 'Azure Kubernetes Service', 1.8), (9, 'Azure Cosmos DB', 'Azure Cosmos DB', 1.1),
    (10, 'Log Analytics', 'Log Analytics', 0.4), (11, 'Backup', 'Backup', 0.35);

CREATE TEMP TABLE msp_combo AS
SELECT row_number() OVER () AS combo_no, s.tenant_id, s.sub_id, g.name AS rg, v.service, v.meter, s.currency,
       -- A daily cost of 0.05 to ~600, skewed towards small amounts.
       (0.05 + 600 * power(pg_temp.u('c' || s.sub_no || '/' || g.rg_no || '/' || v.no), 3) * v.weight)::numeric AS base,
       CASE WHEN v.service = 'Virtual Machines' THEN 0.78 ELSE 1.0 END::numeric AS amortized_factor
FROM msp_sub s
JOIN msp_rg g ON g.sub_no = s.sub_no
CROSS JOIN generate_series(0, 3) k
JOIN msp_service v ON v.no = (g.rg_no * 5 + k * 3 + s.sub_no) % 12;
ANALYZE msp_combo;
SELECT count(*) AS cost_series, count(*) * :days AS cost_rows FROM msp_combo;

-- One INSERT per month (progress, and each statement's rows go to one partition).
SELECT format($q$
    INSERT INTO costs_daily (tenant_id, subscription_db_id, date, resource_group, service_name,
                             meter_category, cost, amortized_cost, currency, created_at, updated_at)
    SELECT c.tenant_id, c.sub_id, d::date, c.rg, c.service, c.meter, x.cost,
           round(x.cost * c.amortized_factor, 6), c.currency, d + interval '2 days', d + interval '3 days'
    FROM msp_combo c
    CROSS JOIN generate_series(%L::timestamp, %L::timestamp, interval '1 day') d
    CROSS JOIN LATERAL (SELECT round((c.base::float8
            * (1 + 0.15 * sin(extract(dow FROM d) * 0.8976))
            * (0.7 + 0.3 * (d::date - %L::date) / %s)
            * (0.9 + 0.2 * pg_temp.h(c.combo_no * 1000 + (d::date - '2000-01-01'::date))))::numeric, 6) AS cost) x
    $q$, greatest(m, current_date - :days), least((m + interval '1 month - 1 day')::date, current_date - 1),
        current_date - :days, :days)
FROM generate_series(date_trunc('month', current_date - :days)::date, (current_date - 1)::date, interval '1 month') m
ORDER BY m
\gexec

\echo msp: rollups (rebuilt once from costs_daily)
SELECT format($q$
    INSERT INTO costs_daily_by_service (tenant_id, subscription_db_id, date, service_name, currency,
                                        cost, amortized_cost, row_count)
    SELECT tenant_id, subscription_db_id, date, service_name, currency, sum(cost), sum(amortized_cost), count(*)
    FROM costs_daily WHERE date >= %1$L AND date < %2$L
    GROUP BY tenant_id, subscription_db_id, date, service_name, currency$q$, m, m + interval '1 month'),
       format($q$
    INSERT INTO costs_daily_totals (tenant_id, subscription_db_id, date, currency, cost, amortized_cost)
    SELECT tenant_id, subscription_db_id, date, currency, sum(cost), sum(amortized_cost)
    FROM costs_daily_by_service WHERE date >= %1$L AND date < %2$L
    GROUP BY tenant_id, subscription_db_id, date, currency$q$, m, m + interval '1 month'),
       format($q$
    INSERT INTO costs_monthly_by_service (tenant_id, subscription_db_id, month, service_name, currency,
                                          cost, amortized_cost, row_count)
    SELECT tenant_id, subscription_db_id, date_trunc('month', date)::date, service_name, currency,
           sum(cost), sum(amortized_cost), sum(row_count)
    FROM costs_daily_by_service WHERE date >= %1$L AND date < %2$L
    GROUP BY tenant_id, subscription_db_id, date_trunc('month', date), service_name, currency$q$, m, m + interval '1 month'),
       format($q$
    INSERT INTO costs_tenant_daily_by_service (tenant_id, date, service_name, currency, cost, amortized_cost,
                                               row_count)
    SELECT tenant_id, date, service_name, currency, sum(cost), sum(amortized_cost), sum(row_count)
    FROM costs_daily_by_service WHERE date >= %1$L AND date < %2$L
    GROUP BY tenant_id, date, service_name, currency$q$, m, m + interval '1 month'),
       format($q$
    INSERT INTO costs_tenant_daily_totals (tenant_id, date, currency, cost, amortized_cost)
    SELECT tenant_id, date, currency, sum(cost), sum(amortized_cost)
    FROM costs_daily_totals WHERE date >= %1$L AND date < %2$L
    GROUP BY tenant_id, date, currency$q$, m, m + interval '1 month'),
       format($q$
    INSERT INTO costs_tenant_monthly_by_service (tenant_id, month, service_name, currency, cost, amortized_cost,
                                                 row_count)
    SELECT tenant_id, month, service_name, currency, sum(cost), sum(amortized_cost), sum(row_count)
    FROM costs_monthly_by_service WHERE month = %1$L
    GROUP BY tenant_id, month, service_name, currency$q$, m),
       format($q$
    INSERT INTO costs_all_tenants_daily_by_service (date, service_name, currency, cost, amortized_cost,
                                                    row_count)
    SELECT date, service_name, currency, sum(cost), sum(amortized_cost), sum(row_count)
    FROM costs_tenant_daily_by_service WHERE date >= %1$L AND date < %2$L
    GROUP BY date, service_name, currency$q$, m, m + interval '1 month'),
       format($q$
    INSERT INTO costs_all_tenants_monthly_by_service (month, service_name, currency, cost, amortized_cost,
                                                      row_count)
    SELECT month, service_name, currency, sum(cost), sum(amortized_cost), sum(row_count)
    FROM costs_tenant_monthly_by_service WHERE month = %1$L
    GROUP BY month, service_name, currency$q$, m)
FROM generate_series(date_trunc('month', current_date - :days)::date, (current_date - 1)::date, interval '1 month') m
ORDER BY m
\gexec

\echo msp: per-resource cost windows and metric statistics
INSERT INTO resource_costs (tenant_id, subscription_db_id, window_end, resource_id, service_name,
                            window_start, resource_group, cost, amortized_cost, currency,
                            created_at, updated_at)
SELECT r.tenant_id, r.sub_id, w.window_end, r.resource_id, t.service, w.window_end - 29, g.name,
       x.cost, round(x.cost * CASE WHEN t.service = 'Virtual Machines' THEN 0.78 ELSE 1 END, 6), r.currency,
       w.window_end + 3, w.window_end + 3
FROM msp_res r
JOIN msp_type t ON t.no = r.type_no AND t.service IS NOT NULL
JOIN msp_rg g ON g.sub_no = r.sub_no AND g.rg_no = r.rg_no
CROSS JOIN (VALUES (current_date - 3), (current_date - 4)) w(window_end)
CROSS JOIN LATERAL (SELECT round((0.5 + 900 * power(pg_temp.u(r.m, 2), 4))::numeric
                                 * (0.98 + 0.04 * pg_temp.h(r.g + (w.window_end - current_date)))::numeric, 6) AS cost) x
WHERE NOT r.deleted
UNION ALL
SELECT s.tenant_id, s.sub_id, w.window_end, '', 'Azure Support', w.window_end - 29, '',
       100, 100, s.currency, w.window_end + 3, w.window_end + 3
FROM msp_sub s CROSS JOIN (VALUES (current_date - 3), (current_date - 4)) w(window_end);

CREATE TEMP TABLE msp_metric (type text, metric text, namespace text, unit text, lo double precision, hi double precision);
INSERT INTO msp_metric VALUES
    ('microsoft.compute/virtualmachines', 'Percentage CPU', 'Microsoft.Compute/virtualMachines', 'Percent', 0, 100),
    ('microsoft.compute/virtualmachines', 'Available Memory Bytes', 'Microsoft.Compute/virtualMachines', 'Bytes', 2e8, 3.2e10),
    ('microsoft.compute/virtualmachines', 'Network Out Total', 'Microsoft.Compute/virtualMachines', 'Bytes', 0, 5e9),
    ('microsoft.compute/virtualmachinescalesets', 'Percentage CPU', 'Microsoft.Compute/virtualMachineScaleSets', 'Percent', 0, 100),
    ('microsoft.compute/virtualmachinescalesets', 'Available Memory Bytes', 'Microsoft.Compute/virtualMachineScaleSets', 'Bytes', 2e8, 3.2e10),
    ('microsoft.compute/disks', 'Composite Disk Read Operations/sec', 'Microsoft.Compute/disks', 'CountPerSecond', 0, 500),
    ('microsoft.compute/disks', 'Composite Disk Write Operations/sec', 'Microsoft.Compute/disks', 'CountPerSecond', 0, 500),
    ('microsoft.compute/disks', 'Composite Disk Read Bytes/sec', 'Microsoft.Compute/disks', 'BytesPerSecond', 0, 5e7),
    ('microsoft.compute/disks', 'Composite Disk Write Bytes/sec', 'Microsoft.Compute/disks', 'BytesPerSecond', 0, 5e7),
    ('microsoft.web/serverfarms', 'CpuPercentage', 'Microsoft.Web/serverfarms', 'Percent', 0, 100),
    ('microsoft.web/serverfarms', 'MemoryPercentage', 'Microsoft.Web/serverfarms', 'Percent', 0, 100),
    ('microsoft.sql/servers/databases', 'dtu_consumption_percent', 'Microsoft.Sql/servers/databases', 'Percent', 0, 100),
    ('microsoft.sql/servers/databases', 'cpu_percent', 'Microsoft.Sql/servers/databases', 'Percent', 0, 100);

INSERT INTO resource_metrics (tenant_id, subscription_db_id, resource_id, metric, namespace,
                              window_start, window_end, interval, unit, state, avg, max, min, p95,
                              samples, error, created_at, updated_at)
SELECT r.tenant_id, r.sub_id, r.resource_id, mt.metric, mt.namespace,
       date_trunc('hour', now()) - interval '15 days', date_trunc('hour', now()) - interval '1 day',
       'PT1H', mt.unit, st.state,
       CASE WHEN st.state = 'data' THEN v.avg END, CASE WHEN st.state = 'data' THEN v.avg * 2.5 END,
       CASE WHEN st.state = 'data' THEN v.avg * 0.2 END, CASE WHEN st.state = 'data' THEN v.avg * 1.8 END,
       CASE WHEN st.state = 'data' THEN 336 ELSE 0 END,
       CASE WHEN st.state = 'failed' THEN 'monitor answered 500 Internal Server Error' END,
       now() - interval '1 day', now() - interval '1 day'
FROM msp_res r
JOIN msp_type t ON t.no = r.type_no
JOIN msp_metric mt ON mt.type = t.type
CROSS JOIN LATERAL (SELECT pg_temp.h(r.g * 31 + length(mt.metric)) AS u) q
CROSS JOIN LATERAL (SELECT CASE WHEN q.u < 0.92 THEN 'data' WHEN q.u < 0.98 THEN 'no_data' ELSE 'failed' END AS state) st
CROSS JOIN LATERAL (SELECT mt.lo + (mt.hi - mt.lo) * 0.35 * power(pg_temp.h(r.g * 17 + length(mt.metric)), 2) AS avg) v
WHERE NOT r.deleted;

\echo msp: recommendations
-- The rules of the catalogue (src/rules/catalogue/table.rs) and the resource types they judge.
CREATE TEMP TABLE msp_rule (rule_id text, type text, title text, category text, action text,
                            risk level, effort level, basis text, savings_share double precision);
INSERT INTO msp_rule VALUES
    ('disk.unattached', 'microsoft.compute/disks', 'Unattached managed disk', 'waste', 'delete', 'medium', 'low', 'c30', 1.0),
    ('disk.on_deallocated_vm', 'microsoft.compute/disks', 'SSD disk of a long-deallocated VM', 'cost', 'change_tier', 'low', 'low', 'retail', 0.5),
    ('disk.premium_underused', 'microsoft.compute/disks', 'Underused Premium disk', 'rightsizing', 'change_tier', 'medium', 'medium', 'retail', 0.4),
    ('publicip.orphaned', 'microsoft.network/publicipaddresses', 'Unassociated public IP', 'waste', 'delete', 'medium', 'low', 'c30', 1.0),
    ('nic.orphaned', 'microsoft.network/networkinterfaces', 'Unattached network interface', 'waste', 'delete', 'low', 'low', 'none', NULL),
    ('snapshot.stale', 'microsoft.compute/snapshots', 'Stale snapshot', 'waste', 'delete', 'medium', 'low', 'c30', 1.0),
    ('snapshot.premium', 'microsoft.compute/snapshots', 'Snapshot on Premium storage', 'cost', 'change_tier', 'low', 'low', 'retail', 0.6),
    ('snapshot.orphaned_source', 'microsoft.compute/snapshots', 'Snapshot of a deleted disk', 'waste', 'delete', 'medium', 'low', 'c30', 1.0),
    ('vm.stopped_allocated', 'microsoft.compute/virtualmachines', 'Stopped VM still allocated', 'waste', 'stop', 'low', 'low', 'c30', 1.0),
    ('vm.long_deallocated', 'microsoft.compute/virtualmachines', 'Long-deallocated VM', 'waste', 'delete', 'high', 'low', 'c30', 0.3),
    ('vm.idle', 'microsoft.compute/virtualmachines', 'Idle VM', 'waste', 'shutdown', 'high', 'low', 'c30', 1.0),
    ('vm.rightsize', 'microsoft.compute/virtualmachines', 'Oversized VM', 'rightsizing', 'resize', 'medium', 'medium', 'delta', 0.5),
    ('vm.no_ahb', 'microsoft.compute/virtualmachines', 'Windows VM without Hybrid Benefit', 'commitment', 'hybrid_benefit', 'low', 'low', 'retail', 0.35),
    ('sqlvm.no_ahb', 'microsoft.compute/virtualmachines', 'SQL Server VM licensed pay-as-you-go', 'commitment', 'hybrid_benefit', 'low', 'low', 'retail', 0.3),
    ('sku.retired', 'microsoft.compute/virtualmachines', 'Retired SKU', 'governance', 'upgrade_sku', 'medium', 'high', 'none', NULL),
    ('vmss.underused', 'microsoft.compute/virtualmachinescalesets', 'Underused scale set', 'rightsizing', 'resize', 'medium', 'medium', 'delta', 0.4),
    ('asp.empty', 'microsoft.web/serverfarms', 'Empty App Service plan', 'waste', 'delete', 'low', 'low', 'c30', 1.0),
    ('asp.oversized', 'microsoft.web/serverfarms', 'Oversized App Service plan', 'rightsizing', 'resize', 'medium', 'low', 'delta', 0.5),
    ('sql.dtu_underused', 'microsoft.sql/servers/databases', 'Underused DTU database', 'rightsizing', 'resize', 'medium', 'low', 'delta', 0.5),
    ('sql.pool_empty', 'microsoft.sql/servers/elasticpools', 'Empty elastic pool', 'waste', 'delete', 'low', 'low', 'c30', 1.0),
    ('lb.backendless', 'microsoft.network/loadbalancers', 'Load balancer without backends', 'waste', 'delete', 'low', 'low', 'c30', 1.0),
    ('appgw.backendless', 'microsoft.network/applicationgateways', 'Application gateway without backends', 'waste', 'delete', 'low', 'low', 'c30', 1.0),
    ('vnetgw.idle', 'microsoft.network/virtualnetworkgateways', 'Virtual network gateway without connections', 'waste', 'delete', 'medium', 'low', 'c30', 1.0),
    ('natgw.orphaned', 'microsoft.network/natgateways', 'NAT gateway on no subnet', 'waste', 'delete', 'low', 'low', 'c30', 1.0),
    ('ddos.unassociated', 'microsoft.network/ddosprotectionplans', 'DDoS plan protecting no network', 'waste', 'delete', 'low', 'low', 'c30', 1.0),
    ('er.unprovisioned', 'microsoft.network/expressroutecircuits', 'Unprovisioned ExpressRoute circuit', 'waste', 'delete', 'medium', 'medium', 'c30', 1.0),
    ('pe.unused', 'microsoft.network/privateendpoints', 'Private endpoint without an approved connection', 'waste', 'delete', 'low', 'low', 'c30', 1.0);
CREATE TEMP TABLE msp_rule_no AS
SELECT r.*, row_number() OVER (PARTITION BY type ORDER BY rule_id) - 1 AS k,
       count(*) OVER (PARTITION BY type) AS n
FROM msp_rule r;

-- Candidates: each live resource with a rule for its type (one of them) and, without a
-- cost-center tag, tag.missing; the first 70 % of the target in a pseudo-random order.
CREATE TEMP TABLE msp_finding AS
WITH live AS (
    SELECT r.*, t.type, res.id AS resource_db_id, res.tags ? 'cost-center' AS has_cc
    FROM msp_res r
    JOIN msp_type t ON t.no = r.type_no
    JOIN resources res ON res.tenant_id = r.tenant_id AND res.subscription_db_id = r.sub_id
                      AND res.resource_id = r.resource_id
    WHERE NOT r.deleted),
cand AS (
    SELECT l.*, ru.rule_id, ru.title, ru.category, ru.action, ru.risk, ru.effort, ru.basis, ru.savings_share
    FROM live l JOIN msp_rule_no ru ON ru.type = l.type AND ru.k = l.g % ru.n
    UNION ALL
    SELECT l.*, 'tag.missing', 'Missing required tag', 'governance', 'tag', 'low'::level, 'low'::level, 'none', NULL
    FROM live l WHERE NOT l.has_cc)
SELECT * FROM cand ORDER BY md5(rule_id || g) LIMIT (:recommendations * 7 / 10);
ANALYZE msp_finding;

INSERT INTO recommendations (tenant_id, subscription_db_id, resource_db_id, resource_id, rule_id, source,
                             external_id, category, action, variant, title, description,
                             estimated_monthly_savings, currency, savings_basis, confidence_score,
                             risk_level, effort_level, status, details, evidence, fingerprint,
                             first_detected_at, last_detected_at, absent_evaluations, resolved_at,
                             snoozed_until, approved_at, executed_at, executed_reference,
                             baseline_daily_cost, baseline_currency, baseline_window_start,
                             baseline_window_end, created_at, updated_at)
SELECT f.tenant_id, f.sub_id, f.resource_db_id, f.resource_id, f.rule_id, 'rule', NULL, f.category, f.action, '',
       f.title || ': ' || regexp_replace(f.resource_id, '^.*/', ''),
       CASE f.rule_id WHEN 'tag.missing' THEN 'The resource, its resource group and subscription carry no cost-center tag'
                      ELSE f.title || ' for ' || (14 + f.g % 60) || ' days' END,
       CASE WHEN f.savings_share IS NOT NULL THEN sav.v END, f.currency, f.basis,
       round((0.55 + 0.4 * pg_temp.u(f.m, 3))::numeric, 2), f.risk, f.effort, st.status, '{}'::jsonb,
       CASE WHEN f.rule_id = 'tag.missing'
            THEN jsonb_build_object('missing_tags', jsonb_build_array('cost-center'),
                                    'required_tags', jsonb_build_array('cost-center'), 'untagged_c30', sav.v)
            ELSE jsonb_build_object('c30', sav.v * 1.02, 'currency', f.currency, 'days_observed', 14 + f.g % 60,
                                    'thresholds', jsonb_build_object('cpu_p95_percent', 5, 'min_days', 14),
                                    'observed', jsonb_build_object('cpu_p95_percent', round((f.g % 50) / 10.0, 1),
                                                                   'samples', 336)) END,
       f.rule_id || '|' || f.resource_id || '|',
       d.first, d.last, 0,
       CASE WHEN st.status = 'resolved' THEN d.last END,
       CASE WHEN st.status = 'dismissed' AND f.g % 2 = 0 THEN now() + (f.g % 90) * interval '1 day' END,
       CASE WHEN st.status IN ('approved', 'executed') THEN d.first + interval '3 days' END,
       CASE WHEN st.status = 'executed' THEN d.first + interval '10 days' END,
       CASE WHEN st.status = 'executed' THEN 'CHG' || (100000 + f.g % 900000) END,
       -- An execution's baseline: the resource's mean daily cost in the window before it.
       CASE WHEN st.status = 'executed' THEN round(sav.v / 25, 6) END,
       CASE WHEN st.status = 'executed' THEN f.currency END,
       CASE WHEN st.status = 'executed' THEN (d.first + interval '10 days')::date - 33 END,
       CASE WHEN st.status = 'executed' THEN (d.first + interval '10 days')::date - 4 END,
       d.first, d.last
FROM msp_finding f
CROSS JOIN LATERAL (SELECT round((1 + 400 * power(pg_temp.u(f.m, 2), 3) * coalesce(f.savings_share, 0))::numeric, 2) AS v) sav
CROSS JOIN LATERAL (SELECT pg_temp.u(f.m || f.rule_id, 0) AS u) q
CROSS JOIN LATERAL (SELECT (CASE WHEN q.u < 0.80 THEN 'open' WHEN q.u < 0.85 THEN 'dismissed'
                                 WHEN q.u < 0.89 THEN 'approved' WHEN q.u < 0.92 THEN 'rejected'
                                 WHEN q.u < 0.95 THEN 'executed' ELSE 'resolved' END)::recommendation_status AS status) st
CROSS JOIN LATERAL (SELECT now() - (1 + floor(180 * pg_temp.u(f.m || f.rule_id, 1))) * interval '1 day' AS first) d0
CROSS JOIN LATERAL (SELECT d0.first AS first,
                           least(now() - interval '1 day', d0.first + (f.g % 30) * interval '1 day') AS last) d
-- In subscription order, as evaluations write them (a tenant's rows lie together, as in a real database).
ORDER BY f.sub_no, f.g;

ANALYZE recommendations;

-- Advisor: VM right-size or shutdown, unattached disks (about resources, grouped under a rule
-- finding about the same resource and action when there is one), and reservation purchases.
CREATE TEMP TABLE msp_advisor AS
WITH cand AS (
    SELECT r.*, t.type, res.id AS resource_db_id
    FROM msp_res r
    JOIN msp_type t ON t.no = r.type_no AND t.type IN ('microsoft.compute/virtualmachines', 'microsoft.compute/disks')
    JOIN resources res ON res.tenant_id = r.tenant_id AND res.subscription_db_id = r.sub_id
                      AND res.resource_id = r.resource_id
    WHERE NOT r.deleted)
SELECT c.*,
       CASE WHEN c.type = 'microsoft.compute/disks' THEN '48eda464-1485-4dcf-a674-d0905df5054a'
            WHEN c.g % 7 = 0 THEN '84b1a508-fc21-49da-979e-96894f1665df'
            ELSE 'e10b1381-5f0a-47ff-8c7b-37bd13d7c974' END AS type_id,
       CASE WHEN c.type = 'microsoft.compute/disks' THEN 'delete'
            WHEN c.g % 7 = 0 THEN 'reserve'
            WHEN c.g % 3 = 0 THEN 'shutdown' ELSE 'resize' END AS action
FROM cand c
ORDER BY md5('advisor' || c.g)
LIMIT (:recommendations - :recommendations * 7 / 10);

INSERT INTO recommendations (tenant_id, subscription_db_id, resource_db_id, resource_id, rule_id, source,
                             external_id, category, action, title, description, estimated_monthly_savings,
                             currency, savings_basis, confidence_score, details, superseded_by,
                             status, first_detected_at, last_detected_at, created_at, updated_at,
                             snoozed_until)
SELECT a.tenant_id, a.sub_id, CASE WHEN a.action <> 'reserve' THEN a.resource_db_id END,
       CASE WHEN a.action <> 'reserve' THEN a.resource_id END,
       'advisor:' || a.type_id, 'advisor',
       CASE WHEN a.action = 'reserve'
            THEN lower(format('/subscriptions/%s/providers/microsoft.advisor/recommendations/%s', a.azure_sub, pg_temp.id('50000000', a.g)))
            ELSE a.resource_id || '/providers/microsoft.advisor/recommendations/' || pg_temp.id('50000000', a.g) END,
       'cost', CASE WHEN a.action = 'reserve' THEN 'reserve' ELSE a.action END,
       CASE a.action WHEN 'delete' THEN 'You have disks that are not attached to a VM'
                     WHEN 'reserve' THEN 'Buy virtual machine reserved instances to save money over pay-as-you-go costs'
                     ELSE 'Right-size or shutdown underutilized virtual machines' END,
       CASE a.action WHEN 'delete' THEN 'Review unattached disks and delete the ones you no longer need'
                     WHEN 'reserve' THEN 'Purchase a reservation for the VM sizes you run continuously'
                     ELSE 'Resize or shut down the virtual machine' END,
       sav.v, a.currency, 'advisor', round((0.5 + 0.45 * pg_temp.u(a.m, 1))::numeric, 3),
       jsonb_build_object(
           'impact', CASE WHEN sav.v > 100 THEN 'High' WHEN sav.v > 20 THEN 'Medium' ELSE 'Low' END,
           'savings_source', 'Reported', 'impacted_field',
           CASE a.action WHEN 'delete' THEN 'Microsoft.Compute/disks' WHEN 'reserve' THEN 'Microsoft.Subscriptions/subscriptions'
                         ELSE 'Microsoft.Compute/virtualMachines' END,
           'impacted_value', regexp_replace(a.resource_id, '^.*/', ''),
           'extended_properties', CASE a.action
               WHEN 'reserve' THEN jsonb_build_object('vmSize', 'Standard_D4s_v3', 'term', 'P1Y', 'qty', 1 + a.g % 8,
                                                      'region', 'westeurope', 'annualSavingsAmount', (sav.v * 12)::text)
               WHEN 'delete' THEN jsonb_build_object('diskSizeGB', '128', 'annualSavingsAmount', (sav.v * 12)::text)
               ELSE jsonb_build_object('recommendationType', CASE WHEN a.action = 'shutdown' THEN 'Shutdown' ELSE 'SkuChange' END,
                                       'currentSku', 'Standard_D4s_v3', 'targetSku',
                                       CASE WHEN a.action = 'shutdown' THEN 'Shutdown' ELSE 'Standard_D2s_v3' END,
                                       'MaxCpuP95', (a.g % 30)::text, 'savingsAmount', sav.v::text,
                                       'annualSavingsAmount', (sav.v * 12)::text) END,
           'last_updated', (now() - interval '1 day')::text,
           'learn_more_link', 'https://aka.ms/azureadvisordashboard'),
       lead.id, 'open', d.first, now() - interval '1 day', d.first, now() - interval '1 day', NULL
FROM msp_advisor a
CROSS JOIN LATERAL (SELECT round((2 + 300 * power(pg_temp.u(a.m, 0), 3))::numeric, 2) AS v) sav
CROSS JOIN LATERAL (SELECT now() - (1 + floor(120 * pg_temp.u(a.m, 3))) * interval '1 day' AS first) d
LEFT JOIN LATERAL (SELECT l.id FROM recommendations l
                   WHERE l.tenant_id = a.tenant_id AND l.subscription_db_id = a.sub_id AND l.source = 'rule'
                     AND l.resource_id = a.resource_id AND l.action = a.action AND a.action <> 'reserve'
                     AND l.status <> 'resolved'
                   ORDER BY l.first_detected_at, l.id LIMIT 1) lead ON true
ORDER BY a.sub_no, a.g;

-- A few suppressions and rule settings, as tenants make them.
INSERT INTO suppressions (tenant_id, scope, subscription_db_id, resource_group, tag_key, tag_value, target,
                          rule_id, category, kind, expires_at, reason, author, created_at, updated_at)
SELECT s.tenant_id, 'resource_group', s.sub_id, g.name, NULL, NULL, 'rule', 'nic.orphaned', NULL, 'exclude', NULL,
       'Network team keeps spare NICs here', 'ops@msp.example', now() - interval '30 days', now() - interval '30 days'
FROM msp_sub s JOIN msp_rg g ON g.sub_no = s.sub_no AND g.rg_no = 0
WHERE s.tenant_no % 4 = 0 AND s.sub_in_tenant = 1
UNION ALL
SELECT t.tenant_id, 'tag', NULL, NULL, 'environment', 'dev', 'category', NULL, 'rightsizing', 'snooze',
       now() + interval '20 days', 'Dev environments are resized in the next sprint', 'ops@msp.example',
       now() - interval '5 days', now() - interval '5 days'
FROM msp_tenant t WHERE t.tenant_no % 10 = 3;

INSERT INTO rule_settings (tenant_id, rule_id, enabled, thresholds, updated_by)
SELECT tenant_id, 'sku.retired', false, '{}'::jsonb, 'ops@msp.example' FROM msp_tenant WHERE tenant_no % 7 = 0
UNION ALL
SELECT tenant_id, 'vm.idle', true, '{"cpu_p95_percent": 3}', 'ops@msp.example' FROM msp_tenant WHERE tenant_no % 5 = 0;

-- The summary's cells, as migration 20261215000000 builds them from existing recommendations.
DELETE FROM recommendation_summary_cells;
INSERT INTO recommendation_summary_cells
    (tenant_id, subscription_db_id, status, category, rule_id, currency, count, savings)
SELECT tenant_id, subscription_db_id, status, category, rule_id, currency,
       count(*), coalesce(sum(estimated_monthly_savings), 0)
FROM recommendations
WHERE superseded_by IS NULL
GROUP BY 1, 2, 3, 4, 5, 6;
-- And per tenant, as migration 20261218000100 builds them.
DELETE FROM recommendation_tenant_summary_cells;
INSERT INTO recommendation_tenant_summary_cells (tenant_id, status, category, rule_id, currency, count, savings)
SELECT tenant_id, status, category, rule_id, currency, sum(count), sum(savings)
FROM recommendation_summary_cells
GROUP BY 1, 2, 3, 4, 5;
-- And the realised savings' cells, as migration 20261221000000 builds them (no measurement is
-- kept yet: `azcops migrate` keeps them after this script, through the triggers).
DELETE FROM recommendation_realised_cells;
INSERT INTO recommendation_realised_cells
    (tenant_id, rule_id, estimate_currency, measurement, currency, count,
     estimated_monthly_savings, monthly_savings)
SELECT d.tenant_id, d.rule_id, d.estimate_currency, d.measurement, d.currency, sum(d.count),
       sum(d.estimated_monthly_savings), sum(d.monthly_savings)
FROM (SELECT r.tenant_id, r.rule_id, r.currency AS estimate_currency, '' AS measurement,
             '' AS currency, 1 AS count, coalesce(r.estimated_monthly_savings, 0) AS estimated_monthly_savings,
             0 AS monthly_savings
      FROM recommendations r
      WHERE (r.status = 'executed' OR (r.status = 'resolved' AND r.approved_at IS NOT NULL))
        AND r.superseded_by IS NULL
      UNION ALL
      SELECT d.* FROM recommendation_realised_deltas(
          (SELECT coalesce(array_agg(m), '{}') FROM recommendation_realised m), 1) d) d
GROUP BY 1, 2, 3, 4, 5
HAVING sum(d.count) <> 0;

RESET session_replication_role;

\echo msp: checks
-- The rollups against the rows they sum, from one pass over costs_daily (any difference
-- fails the script).
CREATE TEMP TABLE msp_check AS
SELECT tenant_id, subscription_db_id, date, currency, sum(cost) AS cost, sum(amortized_cost) AS amortized,
       count(*) AS n
FROM costs_daily GROUP BY 1, 2, 3, 4;
SELECT count(*) AS rollup_days_differing
FROM msp_check c
FULL JOIN costs_daily_totals t USING (tenant_id, subscription_db_id, date, currency)
WHERE c.cost IS DISTINCT FROM t.cost OR c.amortized IS DISTINCT FROM t.amortized_cost
\gset
SELECT (SELECT sum(cost) FROM msp_check) = (SELECT sum(cost) FROM costs_monthly_by_service)
   AND (SELECT sum(amortized) FROM msp_check) = (SELECT sum(amortized_cost) FROM costs_monthly_by_service)
   AND (SELECT sum(n) FROM msp_check) = (SELECT sum(row_count) FROM costs_monthly_by_service)
   AND (SELECT sum(n) FROM msp_check) = (SELECT sum(row_count) FROM costs_daily_by_service)
   AND (SELECT sum(cost) FROM msp_check) = (SELECT sum(cost) FROM costs_daily_by_service) AS rollups_consistent
\gset
\echo msp: rollup days differing from costs_daily: :rollup_days_differing, monthly and by-service sums consistent: :rollups_consistent
-- The tenant rollups: their day totals against costs_daily, their rows by service (day and
-- month) against the per-subscription rows they sum, group by group.
SELECT count(*) AS tenant_rollup_days_differing
FROM (SELECT tenant_id, date, currency, sum(cost) AS cost, sum(amortized) AS amortized
      FROM msp_check GROUP BY 1, 2, 3) c
FULL JOIN costs_tenant_daily_totals t USING (tenant_id, date, currency)
WHERE c.cost IS DISTINCT FROM t.cost OR c.amortized IS DISTINCT FROM t.amortized_cost
\gset
SELECT count(*) AS tenant_rollup_groups_differing
FROM (SELECT 'd' AS kind, tenant_id, date, service_name, currency, sum(cost) AS cost,
             sum(amortized_cost) AS amortized, sum(row_count) AS n
      FROM costs_daily_by_service GROUP BY 2, 3, 4, 5
      UNION ALL
      SELECT 'm', tenant_id, month, service_name, currency, sum(cost), sum(amortized_cost), sum(row_count)
      FROM costs_monthly_by_service GROUP BY 2, 3, 4, 5) c
FULL JOIN (SELECT 'd' AS kind, tenant_id, date, service_name, currency, cost, amortized_cost, row_count
           FROM costs_tenant_daily_by_service
           UNION ALL
           SELECT 'm', tenant_id, month, service_name, currency, cost, amortized_cost, row_count
           FROM costs_tenant_monthly_by_service) t USING (kind, tenant_id, date, service_name, currency)
WHERE (c.cost, c.amortized, c.n) IS DISTINCT FROM (t.cost, t.amortized_cost, t.row_count)
\gset
\echo msp: rollup (tenant) days differing from costs_daily: :tenant_rollup_days_differing, groups by service differing from the subscription rollups: :tenant_rollup_groups_differing
-- The all-tenant rollups against the tenant rows they sum, group by group.
SELECT count(*) AS all_tenant_groups_differing
FROM (SELECT 'd' AS kind, date, service_name, currency, sum(cost) AS cost,
             sum(amortized_cost) AS amortized, sum(row_count) AS n
      FROM costs_tenant_daily_by_service GROUP BY 2, 3, 4
      UNION ALL
      SELECT 'm', month, service_name, currency, sum(cost), sum(amortized_cost), sum(row_count)
      FROM costs_tenant_monthly_by_service GROUP BY 2, 3, 4) c
FULL JOIN (SELECT 'd' AS kind, date, service_name, currency, cost, amortized_cost, row_count
           FROM costs_all_tenants_daily_by_service
           UNION ALL
           SELECT 'm', month, service_name, currency, cost, amortized_cost, row_count
           FROM costs_all_tenants_monthly_by_service) t USING (kind, date, service_name, currency)
WHERE (c.cost, c.amortized, c.n) IS DISTINCT FROM (t.cost, t.amortized_cost, t.row_count)
\gset
\echo msp: rollup (all tenants) groups by service differing from the tenant rollups: :all_tenant_groups_differing
SELECT :rollup_days_differing = 0 AND :'rollups_consistent'::boolean
       AND :tenant_rollup_days_differing = 0 AND :tenant_rollup_groups_differing = 0
       AND :all_tenant_groups_differing = 0 AS rollups_ok \gset
\if :rollups_ok
\else
    \echo msp: the rollups do not match costs_daily
    SELECT 1/0;
\endif

-- The summary's cells against the recommendations they count.
SELECT count(*) AS summary_cells_differing
FROM (SELECT tenant_id, subscription_db_id, status, category, rule_id, currency, count(*) AS count,
             coalesce(sum(estimated_monthly_savings), 0) AS savings
      FROM recommendations WHERE superseded_by IS NULL GROUP BY 1, 2, 3, 4, 5, 6) d
FULL JOIN recommendation_summary_cells c USING (tenant_id, subscription_db_id, status, category, rule_id, currency)
WHERE c.count IS DISTINCT FROM d.count OR c.savings IS DISTINCT FROM d.savings
\gset
\echo msp: summary cells differing from recommendations: :summary_cells_differing
SELECT count(*) AS tenant_summary_cells_differing
FROM (SELECT tenant_id, status, category, rule_id, currency, count(*) AS count,
             coalesce(sum(estimated_monthly_savings), 0) AS savings
      FROM recommendations WHERE superseded_by IS NULL GROUP BY 1, 2, 3, 4, 5) d
FULL JOIN recommendation_tenant_summary_cells c USING (tenant_id, status, category, rule_id, currency)
WHERE c.count IS DISTINCT FROM d.count OR c.savings IS DISTINCT FROM d.savings
\gset
\echo msp: tenant summary cells differing from recommendations: :tenant_summary_cells_differing
SELECT :summary_cells_differing = 0 AND :tenant_summary_cells_differing = 0 AS summary_cells_ok \gset
\if :summary_cells_ok
\else
    \echo msp: the summary cells do not match recommendations
    SELECT 1/0;
\endif

\echo msp: vacuum analyze
VACUUM ANALYZE;
