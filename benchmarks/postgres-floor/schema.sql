-- The floor's tables: the rows a metered call writes under the store protocol of issue 12 (a hold, its settle, a
-- ledger entry, a usage record, the account's balance, a counter per limit window), each table with its primary key
-- only and no more columns than the statements need. Nothing of UsageBilling runs here.
DROP TABLE IF EXISTS floor_balances, floor_holds, floor_ledger, floor_usage, floor_counters;
CREATE TABLE floor_balances (account text PRIMARY KEY, balance bigint NOT NULL, reserved bigint NOT NULL);
CREATE TABLE floor_holds (id text PRIMARY KEY, account text NOT NULL, amount bigint NOT NULL, state int NOT NULL,
    created bigint NOT NULL, expires bigint NOT NULL, reference text);
CREATE TABLE floor_ledger (id text PRIMARY KEY, account text NOT NULL, kind int NOT NULL, amount bigint NOT NULL,
    balance_after bigint NOT NULL, idempotency_key text NOT NULL, created bigint NOT NULL);
CREATE TABLE floor_usage (request_id text PRIMARY KEY, ts bigint NOT NULL, key_id text, account text NOT NULL,
    method text, route text, status int, duration double precision, cost bigint, outcome text);
CREATE TABLE floor_counters (key text PRIMARY KEY, value bigint NOT NULL, expires bigint NOT NULL);
INSERT INTO floor_balances SELECT 'acct-' || i, 1000000000000000, 0 FROM generate_series(0, 63) i;
