-- Merchants' endpoints are cached by the notifier (issue 12: one round trip less per event and
-- per delivery). A committed change to them notifies `paysys_notifier_endpoints`, and every
-- notifier empties its cache on hearing it (paysys_platform::cache).
CREATE FUNCTION endpoints_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('paysys_notifier_endpoints', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER endpoints_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION endpoints_changed();
