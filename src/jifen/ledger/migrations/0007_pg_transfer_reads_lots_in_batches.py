"""jifen_transfer reads the sender's lots twenty at a time (docs/adr/0006-posting-functions.md).

The loop over the sender's lots had no LIMIT, so the planner could read and sort every lot
of the wallet before the first was taken (and did, once the table had statistics). With
LIMIT 20 per read and the spend-order index of migration 0006 (account, status, expires_on,
id), a spend reads its first lots in index order and stops. Everything else is unchanged:
same rows, same lock order (wallets, then lots as they are read), same results.
PostgreSQL only; a no-op elsewhere.
"""

import importlib

from django.db import migrations

TRANSFER = r"""
CREATE OR REPLACE FUNCTION jifen_transfer(
  p_sender bigint, p_recipient bigint, p_points bigint, p_reference varchar, p_note text,
  p_details jsonb, p_now timestamptz, p_day date, p_limit bigint,
  OUT o_status text, OUT o_txn bigint, OUT o_available bigint, OUT o_pending bigint,
  OUT o_held bigint, OUT o_debt bigint, OUT o_next_expires_on date, OUT o_next_points bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_sender_open boolean;
  v_recipient_open boolean;
  v_sender_wallet bigint;
  v_recipient_wallet bigint;
  v_still bigint := p_points;
  v_take bigint;
  v_lot bigint;
  v_read int;
  v_i int;
  v_expiries date[] := '{}';
  v_amounts bigint[] := '{}';
  r record;
BEGIN
  -- Both members open (read, not locked: as the general path).
  SELECT (is_active AND closed_at IS NULL) INTO v_sender_open
    FROM members_user WHERE id = p_sender;
  SELECT (is_active AND closed_at IS NULL) INTO v_recipient_open
    FROM members_user WHERE id = p_recipient;
  IF v_recipient_open IS NULL THEN o_status := 'recipient_not_found'; RETURN; END IF;
  IF v_sender_open IS NULL THEN o_status := 'member_not_found'; RETURN; END IF;
  IF NOT (v_sender_open AND v_recipient_open) THEN o_status := 'account_closed'; RETURN; END IF;
  SELECT id INTO v_sender_wallet FROM ledger_account WHERE member_id = p_sender;
  SELECT id INTO v_recipient_wallet FROM ledger_account WHERE member_id = p_recipient;
  -- Lots past their date leave the wallet first ("expire on touch"): rare, so nothing is
  -- written here and the caller takes the general path, which expires them first.
  IF v_sender_wallet IS NOT NULL AND EXISTS (
    SELECT 1 FROM ledger_lot
    WHERE account_id = v_sender_wallet AND status = 'available' AND remaining > 0
      AND expires_on < p_day
  ) THEN
    o_status := 'expire_due'; RETURN;
  END IF;
  -- The claim: a concurrent claim of the same reference waits for the first to finish.
  INSERT INTO ledger_transaction (kind, reference, explanation, details, member_id,
      counterparty_id, reverses_id, created_by_id, created_at)
  VALUES ('transfer', p_reference, p_note, p_details, p_sender, p_recipient, NULL, NULL, p_now)
  ON CONFLICT (reference) DO NOTHING
  RETURNING id INTO o_txn;
  IF o_txn IS NULL THEN o_status := 'replay'; RETURN; END IF;
  -- The daily total: one guarded upsert, so concurrent transfers cannot pass the limit.
  IF p_points > p_limit THEN RAISE EXCEPTION 'jifen:transfer_daily_limit'; END IF;
  INSERT INTO ledger_transferdailytotal AS t (member_id, day, points)
  VALUES (p_sender, p_day, p_points)
  ON CONFLICT (member_id, day) DO UPDATE SET points = t.points + EXCLUDED.points
  WHERE t.points + EXCLUDED.points <= p_limit;
  IF NOT FOUND THEN RAISE EXCEPTION 'jifen:transfer_daily_limit'; END IF;
  IF v_sender_wallet IS NULL OR v_recipient_wallet IS NULL THEN
    RAISE EXCEPTION 'jifen:member_not_found';
  END IF;
  -- Both wallets locked in ascending id order (the house lock order), then the guarded
  -- debit and the credit, then the entries (sender first).
  PERFORM 1 FROM ledger_account WHERE id IN (v_sender_wallet, v_recipient_wallet)
    ORDER BY id FOR UPDATE;
  UPDATE ledger_account SET available = available - p_points
    WHERE id = v_sender_wallet AND kind = 'wallet' AND available >= p_points;
  IF NOT FOUND THEN RAISE EXCEPTION 'jifen:insufficient_points'; END IF;
  UPDATE ledger_account SET available = available + p_points
    WHERE id = v_recipient_wallet AND kind = 'wallet';
  IF NOT FOUND THEN RAISE EXCEPTION 'jifen:insufficient_points'; END IF;
  INSERT INTO ledger_entry (transaction_id, account_id, bucket, amount, member_id, created_at)
  VALUES (o_txn, v_sender_wallet, 'available', -p_points, p_sender, p_now),
         (o_txn, v_recipient_wallet, 'available', p_points, p_recipient, p_now);
  -- The sender's lots, soonest-expiring first, locked as they are read (after the wallet),
  -- twenty at a time: a lot taken whole drops out of the next read (remaining 0), so each
  -- read starts where the last one ended and reads only what the posting needs.
  LOOP
    v_read := 0;
    FOR r IN
      SELECT id, remaining, expires_on FROM ledger_lot
      WHERE account_id = v_sender_wallet AND status = 'available' AND remaining > 0
      ORDER BY expires_on ASC NULLS LAST, id ASC
      LIMIT 20
      FOR UPDATE
    LOOP
      v_read := v_read + 1;
      v_take := least(r.remaining, v_still);
      UPDATE ledger_lot SET remaining = remaining - v_take WHERE id = r.id;
      INSERT INTO ledger_lotmovement (transaction_id, lot_id, amount) VALUES (o_txn, r.id, -v_take);
      v_i := array_position(v_expiries, r.expires_on);  -- IS NOT DISTINCT FROM: finds NULL too
      IF v_i IS NULL THEN
        v_expiries := array_append(v_expiries, r.expires_on);
        v_amounts := array_append(v_amounts, v_take);
      ELSE
        v_amounts[v_i] := v_amounts[v_i] + v_take;
      END IF;
      v_still := v_still - v_take;
      EXIT WHEN v_still = 0;
    END LOOP;
    EXIT WHEN v_still = 0 OR v_read = 0;
  END LOOP;
  IF v_still > 0 THEN
    RAISE EXCEPTION 'wallet %: lots do not cover % points', v_sender_wallet, p_points;
  END IF;
  -- The recipient's lots: one per expiry date, keeping the sender's expiry.
  FOR v_i IN 1 .. coalesce(array_length(v_expiries, 1), 0) LOOP
    INSERT INTO ledger_lot (account_id, member_id, transaction_id, status, amount, remaining,
        expires_on, available_on, created_at)
    VALUES (v_recipient_wallet, p_recipient, o_txn, 'available', v_amounts[v_i],
        v_amounts[v_i], v_expiries[v_i], NULL, p_now)
    RETURNING id INTO v_lot;
    INSERT INTO ledger_lotmovement (transaction_id, lot_id, amount)
    VALUES (o_txn, v_lot, v_amounts[v_i]);
  END LOOP;
  -- The sender's balance after the transfer (points_summary's figures).
  SELECT available, pending, held, debt INTO o_available, o_pending, o_held, o_debt
    FROM ledger_account WHERE id = v_sender_wallet;
  SELECT expires_on, sum(remaining) INTO o_next_expires_on, o_next_points
    FROM ledger_lot
    WHERE account_id = v_sender_wallet AND status = 'available' AND remaining > 0
      AND expires_on IS NOT NULL
    GROUP BY expires_on ORDER BY expires_on LIMIT 1;
  o_status := 'ok';
END
$$;
"""


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRANSFER, None)


def restore_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        previous = importlib.import_module("jifen.ledger.migrations.0004_pg_posting_functions")
        schema_editor.execute(previous.TRANSFER, None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_lean_indexes")]

    operations = [migrations.RunPython(create_function, restore_function, elidable=False)]
