-- name: RelationStats :many
-- RelationStats reads PostgreSQL's statistics of every table of schema
-- stripe, without touching the tables themselves: cheap whatever their size.
-- live_rows is n_live_tup, kept current by every insert and delete (within
-- a second or so: backends report their counts when idle) and set afresh by
-- VACUUM and ANALYZE; inserted is n_tup_ins, the rows ever inserted (since
-- the statistics were last reset). deleted_share is the share of rows with
-- deleted = true in the column statistics of the last ANALYZE: the
-- frequency of true among the most common values, else what false and
-- NULLs leave; -1 when ANALYZE kept no most common values (a table never
-- analyzed, or of a single row). analyzed_unix is the time of the last
-- ANALYZE, manual or automatic, in Unix seconds; 0 when never. A partition
-- (of stripe.events, by month) is named by its partitioned table, which has
-- no statistics of its own: one row per partition.
SELECT
    coalesce(parent.relname, t.relname)::text AS relation,
    t.n_live_tup::bigint AS live_rows,
    t.n_tup_ins::bigint AS inserted,
    coalesce(
        s.most_common_freqs[array_position(s.most_common_vals::text::boolean[], true)],
        1 - s.most_common_freqs[array_position(s.most_common_vals::text::boolean[], false)] - s.null_frac,
        -1
    )::float8 AS deleted_share,
    coalesce(extract(epoch FROM greatest(t.last_analyze, t.last_autoanalyze)), 0)::float8 AS analyzed_unix
FROM pg_catalog.pg_stat_user_tables AS t
LEFT JOIN pg_catalog.pg_stats AS s ON s.schemaname = t.schemaname AND s.tablename = t.relname AND s.attname = 'deleted'
LEFT JOIN pg_catalog.pg_inherits AS i ON i.inhrelid = t.relid
LEFT JOIN pg_catalog.pg_class AS parent ON parent.oid = i.inhparent
WHERE t.schemaname = 'stripe'
ORDER BY t.relname;
