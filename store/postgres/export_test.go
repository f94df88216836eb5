package postgres

import "github.com/jackc/pgx/v5"

// Traced has the store's connections report their statements and batches to t.
func Traced(t pgx.QueryTracer) Option { return func(o *options) { o.tracer = t } }

// Migrations are the embedded migrations, for a test that starts at an older version.
var Migrations = migrations
