-- One pgbench transaction = one group of :g calls, written as the store protocol writes them: an admission statement
-- (the group's holds, the balances' reserved sums, one counter per limit window and account, :windows of them) and a
-- completion statement (the holds settled, the balances charged, a ledger entry and a usage record per call), each
-- its own implicit transaction (one commit, one WAL flush), balance rows locked in account order. Variables: r (run),
-- n (group number, starts at 0), g (calls per group), accounts (64, or 1 for one hot account), windows (0 to 5),
-- holds (1; 0: no hold row per call, as if credit were leased to the instance — the reserved sums alone). The holds
-- are found by their primary key (= ANY of an array): a join on the generated ids would let a generic plan scan the
-- whole table for every group, as the first version of this script did.
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
INSERT INTO floor_holds (id, account, amount, state, created, expires, reference)
SELECT id, account, amount, 0, 0, 0, NULL FROM u WHERE :holds = 1 AND account IN (SELECT account FROM b);
WITH u AS (
    SELECT 'res_' || :r || '_' || (:client_id::bigint * 10000000000 + :n * 100 + i) AS id,
        'acct-' || ((:client_id * 16 + i + :n) % :accounts) AS account, 1000::bigint AS amount
    FROM generate_series(1, :g) i),
settled AS (UPDATE floor_holds t SET state = 1 WHERE :holds = 1 AND t.id = ANY (ARRAY(SELECT id FROM u)) AND t.state = 0
    RETURNING t.id, t.account, t.amount),
m AS (SELECT * FROM settled UNION ALL SELECT id, account, amount FROM u WHERE :holds = 0),
locked AS MATERIALIZED (SELECT account FROM floor_balances WHERE account IN (SELECT account FROM m) ORDER BY account FOR UPDATE),
b AS (UPDATE floor_balances t SET reserved = t.reserved - s.held, balance = t.balance - s.held
    FROM (SELECT account, sum(amount)::bigint AS held FROM m GROUP BY account) s
    WHERE t.account = s.account AND t.account IN (SELECT account FROM locked) RETURNING t.account, t.balance),
l AS (INSERT INTO floor_ledger (id, account, kind, amount, balance_after, idempotency_key, created)
    SELECT 'led_' || m.id, m.account, 1, -m.amount, b.balance, 'settle:' || m.id, 0 FROM m JOIN b USING (account) RETURNING 1)
INSERT INTO floor_usage (request_id, ts, key_id, account, method, route, status, duration, cost, outcome)
SELECT 'req_' || m.id, 0, 'key_x', m.account, 'GET', '/x', 200, 1.5, m.amount, 'charged' FROM m;
