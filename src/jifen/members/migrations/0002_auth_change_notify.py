"""NOTIFY jifen_auth, '<user id>' whenever a user's or a token's row changes (ADR 0007).

An UPDATE that changes nothing notifies nothing; TRUNCATE notifies '*' (everyone).

jifen.members.token_cache remembers token lookups per connection and forgets a user's
rows on these notifications. Triggers, not signals: they also fire for bulk updates, the
admin and raw SQL. New tokens need no notice (an unknown token is always looked up).
PostgreSQL only; a no-op elsewhere.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION jifen_auth_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN  -- TRUNCATE: every user
    PERFORM pg_notify('jifen_auth', '*');
  ELSIF TG_TABLE_NAME = 'members_user' THEN
    PERFORM pg_notify('jifen_auth', OLD.id::text);
  ELSE
    PERFORM pg_notify('jifen_auth', OLD.user_id::text);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER jifen_user_auth_changed AFTER UPDATE ON members_user
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION jifen_auth_changed();
CREATE TRIGGER jifen_user_auth_deleted AFTER DELETE ON members_user
  FOR EACH ROW EXECUTE FUNCTION jifen_auth_changed();
CREATE TRIGGER jifen_user_auth_truncated AFTER TRUNCATE ON members_user
  FOR EACH STATEMENT EXECUTE FUNCTION jifen_auth_changed();
CREATE TRIGGER jifen_token_auth_changed AFTER UPDATE ON members_apitoken
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION jifen_auth_changed();
CREATE TRIGGER jifen_token_auth_deleted AFTER DELETE ON members_apitoken
  FOR EACH ROW EXECUTE FUNCTION jifen_auth_changed();
CREATE TRIGGER jifen_token_auth_truncated AFTER TRUNCATE ON members_apitoken
  FOR EACH STATEMENT EXECUTE FUNCTION jifen_auth_changed();
"""

DROP = """
DROP TRIGGER IF EXISTS jifen_token_auth_truncated ON members_apitoken;
DROP TRIGGER IF EXISTS jifen_token_auth_deleted ON members_apitoken;
DROP TRIGGER IF EXISTS jifen_token_auth_changed ON members_apitoken;
DROP TRIGGER IF EXISTS jifen_user_auth_truncated ON members_user;
DROP TRIGGER IF EXISTS jifen_user_auth_deleted ON members_user;
DROP TRIGGER IF EXISTS jifen_user_auth_changed ON members_user;
DROP FUNCTION IF EXISTS jifen_auth_changed();
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, None)


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers, elidable=False)]
