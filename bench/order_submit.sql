-- pgbench script for bench/order_submit.py: the raw PostgreSQL ceiling of one order.
--
-- The writes of ordering.services.order_submit for a two-line pickup order (1 + 2 portions), in
-- the same order and under the same locks, as plain SQL in one transaction and no Python:
-- guarded stock decrements in dish order, the store's order number counter (upsert), the order,
-- its history row (simple-history), its two lines, then the audit event appended to a hash chain
-- whose head row is locked, checked by the append-only triggers and moved forward by one.
-- The reads the service makes before its transaction (idempotency key, store, dishes, options,
-- overrides) are left out: this is the ceiling of the writes a database can commit.
--
-- Variables (pgbench -D, filled in by bench/order_submit.py from the seeded rows):
--   store_id, brand_id, ovr_a, ovr_b (override rows of dishes a < b), dish_a, dish_b,
--   customer_lo, customer_hi (user ids), chain (an audit chain key of its own, without a colon, so that
--   the real chain of the brand stays verifiable).
\set customer random(:customer_lo, :customer_hi)
BEGIN;
UPDATE stores_storedishoverride SET stock = stock - 1, updated_at = now()
    WHERE id = :ovr_a AND is_available AND stock >= 1 RETURNING stock AS left_a \gset
UPDATE stores_storedishoverride SET stock = stock - 2, updated_at = now()
    WHERE id = :ovr_b AND is_available AND stock >= 2 RETURNING stock AS left_b \gset
INSERT INTO ordering_ordernumbercounter (store_id, business_date, last_number)
    VALUES (:store_id, (now() AT TIME ZONE 'Asia/Shanghai')::date, 1)
    ON CONFLICT (store_id, business_date) DO UPDATE SET last_number = ordering_ordernumbercounter.last_number + 1
    RETURNING last_number AS number, business_date AS business_date, gen_random_uuid() AS order_id \gset
INSERT INTO ordering_order (
    id, brand_id, store_id, customer_id, business_date, number, status, source, fulfilment, table_code,
    delivery_address, contact_phone, note, subtotal, delivery_fee, total, pickup_code, idempotency_scope,
    idempotency_key, request_fingerprint, created_at, expires_at, cancel_reason, stock_reserved
) VALUES (
    ':order_id', :brand_id, :store_id, :customer, ':business_date', :number, 'pending_payment', 'api', 'pickup', '',
    '', '13900000000', '', 43.00, 0.00, 43.00, '', 'user:' || :customer,
    ':order_id', md5(':order_id') || md5(':customer'), now(), now() + interval '15 minutes', '',
    jsonb_build_object(':dish_a', 1, ':dish_b', 2)
);
INSERT INTO ordering_historicalorder (
    id, business_date, number, status, source, fulfilment, table_code, delivery_address, contact_phone, note,
    subtotal, delivery_fee, total, idempotency_scope, idempotency_key, created_at, expires_at,
    cancel_reason, history_date, history_type, brand_id, customer_id, history_user_id, store_id, stock_reserved
) VALUES (
    ':order_id', ':business_date', :number, 'pending_payment', 'api', 'pickup', '', '', '13900000000', '',
    43.00, 0.00, 43.00, 'user:' || :customer, ':order_id', now(), now() + interval '15 minutes',
    '', now(), '+', :brand_id, :customer, :customer, :store_id, jsonb_build_object(':dish_a', 1, ':dish_b', 2)
);
INSERT INTO ordering_orderline (
    brand_id, order_id, dish_id, dish_code, name_zh, name_en, base_price, unit_price, quantity, line_total,
    options, kcal, protein_g, fat_g, carbs_g, is_set_meal, position
) VALUES
    (:brand_id, ':order_id', :dish_a, 'BO1', '牛肉面', 'Beef noodles', 18.00, 18.00, 1, 18.00,
     '[]', 650, 22.5, 18.0, 60.0, false, 0),
    (:brand_id, ':order_id', :dish_b, 'BO2', '水饺', 'Dumplings', 12.50, 12.50, 2, 25.00,
     '[]', 420, 22.5, 18.0, 60.0, false, 1);
SELECT last_seq AS chain_seq, last_hash AS chain_hash FROM audit_auditchain WHERE key = ':chain' FOR UPDATE \gset
INSERT INTO audit_auditevent (
    chain, seq, created_at, actor_type, actor_id, actor_repr, brand_id, action, object_type, object_id,
    object_repr, amount, reason, ip, data, prev_hash, hash
)
SELECT ':chain', :chain_seq + 1, now(), 'user', :customer, '139****0000', :brand_id, 'order.submitted',
       'ordering.order', ':order_id', 'BENCHORD #' || :number, 43.00, '', '127.0.0.1', payload,
       ':chain_hash', encode(sha256(convert_to(':chain_hash' || payload::text, 'UTF8')), 'hex')
FROM (SELECT jsonb_build_object(
    'store', 'BENCHORD', 'number', :number, 'status', 'pending_payment', 'fulfilment', 'pickup',
    'lines', jsonb_build_array(jsonb_build_array('BO1', 1, '18.00'), jsonb_build_array('BO2', 2, '12.50')),
    'stock_reserved', jsonb_build_object(':dish_a', 1, ':dish_b', 2),
    'stock_left', jsonb_build_object(':dish_a', :left_a, ':dish_b', :left_b)
) AS payload) AS event
RETURNING hash AS new_hash \gset
UPDATE audit_auditchain SET last_seq = :chain_seq + 1, last_hash = ':new_hash' WHERE key = ':chain';
END;
