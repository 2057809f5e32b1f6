-- group.sql without a hold row per call, as if credit were leased to the instance: the admission statement only adds
-- the group's holds to the balances' reserved sums and counts the limit windows; the completion statement charges the
-- balances and writes a ledger entry and a usage record per call. What the hold rows cost is the difference between
-- the two scripts (run.sh with FLOOR_SCRIPT=group-leased.sql). Same variables as group.sql.
\set n :n + 1
WITH u AS (
    SELECT 'res_' || :r || '_' || (:client_id::bigint * 10000000000 + :n * 100 + i) AS id,
        'acct-' || ((:client_id * 16 + i + :n) % :accounts) AS account, 1000::bigint AS amount
    FROM generate_series(1, :g) i),
locked AS MATERIALIZED (SELECT account FROM floor_balances WHERE account IN (SELECT account FROM u) ORDER BY account FOR UPDATE),
b AS (UPDATE floor_balances t SET reserved = t.reserved + s.amount
    FROM (SELECT account, sum(amount)::bigint AS amount FROM u GROUP BY account) s
    WHERE t.account = s.account AND t.account IN (SELECT account FROM locked) RETURNING t.account),
c AS (INSERT INTO floor_counters AS c (key, value, expires)
    SELECT u.account || ':' || w.name || ':' || (extract(epoch FROM now())::bigint / w.len), count(*), 0
    FROM u, (VALUES (1, 's', 1), (2, 'm', 60), (3, 'h', 3600), (4, 'd', 86400), (5, 'mo', 2592000)) AS w (ord, name, len)
    WHERE w.ord <= :windows
    GROUP BY 1 ORDER BY 1
    ON CONFLICT (key) DO UPDATE SET value = c.value + excluded.value RETURNING 1)
SELECT count(*) FROM b;
WITH m AS MATERIALIZED (
    SELECT 'res_' || :r || '_' || (:client_id::bigint * 10000000000 + :n * 100 + i) AS id,
        'acct-' || ((:client_id * 16 + i + :n) % :accounts) AS account, 1000::bigint AS amount
    FROM generate_series(1, :g) i),
locked AS MATERIALIZED (SELECT account FROM floor_balances WHERE account IN (SELECT account FROM m) ORDER BY account FOR UPDATE),
b AS (UPDATE floor_balances t SET reserved = t.reserved - s.held, balance = t.balance - s.held
    FROM (SELECT account, sum(amount)::bigint AS held FROM m GROUP BY account) s
    WHERE t.account = s.account AND t.account IN (SELECT account FROM locked) RETURNING t.account, t.balance),
l AS (INSERT INTO floor_ledger (id, account, kind, amount, balance_after, idempotency_key, created)
    SELECT 'led_' || m.id, m.account, 1, -m.amount, b.balance, 'settle:' || m.id, 0 FROM m JOIN b USING (account) RETURNING 1)
INSERT INTO floor_usage (request_id, ts, key_id, account, method, route, status, duration, cost, outcome)
SELECT 'req_' || m.id, 0, 'key_x', m.account, 'GET', '/x', 200, 1.5, m.amount, 'charged' FROM m;
