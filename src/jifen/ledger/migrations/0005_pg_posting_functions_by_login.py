"""The bench's two postings naming their member by phone or member number (ADR 0006).

PostgreSQL only (a no-op elsewhere). Each wrapper finds the member as
jifen.ledger.api._member_by_login does (a phone wins over a member number with the same
digits) and calls the function of migration 0004, so a request needs no separate lookup.
A member not found, or a transfer to oneself, is a returned status with nothing written.
"""

from django.db import migrations

TRANSFER = r"""
CREATE OR REPLACE FUNCTION jifen_transfer_to_login(
  p_sender bigint, p_login varchar, p_points bigint, p_reference varchar, p_note text,
  p_details jsonb, p_now timestamptz, p_day date, p_limit bigint,
  OUT o_recipient bigint, OUT o_member_number text, OUT o_name text, OUT o_phone text,
  OUT o_email text,
  OUT o_status text, OUT o_txn bigint, OUT o_available bigint, OUT o_pending bigint,
  OUT o_held bigint, OUT o_debt bigint, OUT o_next_expires_on date, OUT o_next_points bigint)
LANGUAGE plpgsql AS $$
BEGIN
  SELECT id, member_number, name, phone, email
    INTO o_recipient, o_member_number, o_name, o_phone, o_email
    FROM members_user WHERE phone = p_login OR member_number = p_login
    ORDER BY CASE WHEN phone = p_login THEN 0 ELSE 1 END LIMIT 1;
  IF o_recipient IS NULL THEN o_status := 'recipient_unknown'; RETURN; END IF;
  IF o_recipient = p_sender THEN o_status := 'transfer_to_self'; RETURN; END IF;
  SELECT t.o_status, t.o_txn, t.o_available, t.o_pending, t.o_held, t.o_debt,
      t.o_next_expires_on, t.o_next_points
    INTO o_status, o_txn, o_available, o_pending, o_held, o_debt, o_next_expires_on,
      o_next_points
    FROM jifen_transfer(p_sender, o_recipient, p_points, p_reference, p_note, p_details, p_now,
      p_day, p_limit) t;
END
$$;
"""

ADJUSTMENT = r"""
CREATE OR REPLACE FUNCTION jifen_adjustment_credit_to_login(
  p_login varchar, p_points bigint, p_reason varchar, p_reference varchar,
  p_txn_reference varchar, p_details jsonb, p_created_by bigint, p_system bigint,
  p_expires_on date, p_now timestamptz,
  OUT o_member bigint, OUT o_member_number text,
  OUT o_status text, OUT o_txn bigint, OUT o_adjustment bigint)
LANGUAGE plpgsql AS $$
BEGIN
  SELECT id, member_number INTO o_member, o_member_number
    FROM members_user WHERE phone = p_login OR member_number = p_login
    ORDER BY CASE WHEN phone = p_login THEN 0 ELSE 1 END LIMIT 1;
  IF o_member IS NULL THEN o_status := 'member_unknown'; RETURN; END IF;
  SELECT t.o_status, t.o_txn, t.o_adjustment INTO o_status, o_txn, o_adjustment
    FROM jifen_adjustment_credit(o_member, p_points, p_reason, p_reference, p_txn_reference,
      p_details, p_created_by, p_system, p_expires_on, p_now) t;
END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS jifen_transfer_to_login(bigint, varchar, bigint, varchar, text, jsonb,
    timestamptz, date, bigint);
DROP FUNCTION IF EXISTS jifen_adjustment_credit_to_login(varchar, bigint, varchar, varchar,
    varchar, jsonb, bigint, bigint, date, timestamptz);
"""


def create_functions(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRANSFER, None)
        schema_editor.execute(ADJUSTMENT, None)


def drop_functions(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_pg_posting_functions")]

    operations = [migrations.RunPython(create_functions, drop_functions, elidable=False)]
