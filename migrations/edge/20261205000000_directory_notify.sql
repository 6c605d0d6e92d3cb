-- rpc-edge keeps merchants' credentials and channels in memory (`rpc_edge::directory`), emptied
-- when the database says they changed: every statement that changes `merchants` or `channels`
-- notifies the channel `paysys_edge_directory` (delivered when its transaction commits, not at
-- all when it rolls back), and the edge's listener (`paysys_platform::cache::listen`) empties
-- the caches when it hears it. Statement-level: one notification per statement, however many
-- rows it touched; TRUNCATE included.
CREATE FUNCTION directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('paysys_edge_directory', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER merchants_directory_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON merchants
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();

CREATE TRIGGER channels_directory_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON channels
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
