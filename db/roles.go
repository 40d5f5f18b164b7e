package db

import _ "embed"

// RolesSQL is db/roles.sql, the script that makes the mirror's roles (the
// owner of schema stripe and a reader), for psql; db/dbtest runs it too.
//
//go:embed roles.sql
var RolesSQL string
