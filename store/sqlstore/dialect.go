package sqlstore

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds what differs between the databases.
type dialect struct {
	name string
	// schema fills the {{...}} tokens of migrations.
	schema *strings.Replacer
	// now is an expression for the database's clock in microseconds.
	now string
	// classify maps a driver error to the store's errors: ok reports
	// whether it did.
	isUnique      func(error) bool
	isUnavailable func(error) bool
}

var sqliteDialect = dialect{
	name: "sqlite",
	schema: strings.NewReplacer(
		"{{serial}}", "INTEGER PRIMARY KEY AUTOINCREMENT",
		"{{bool}}", "INTEGER",
		"{{false}}", "0",
	),
	now: "CAST(unixepoch('subsec') * 1000000 AS INTEGER)",
	isUnique: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
	},
	isUnavailable: func(err error) bool {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return false
		}
		switch e.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY:
			return true
		}
		return false
	},
}

var postgresDialect = dialect{
	name: "postgres",
	schema: strings.NewReplacer(
		"{{serial}}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
		"{{bool}}", "BOOLEAN",
		"{{false}}", "FALSE",
	),
	now: "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT",
	isUnique: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23505"
	},
	isUnavailable: func(err error) bool {
		var e *pgconn.PgError
		if errors.As(err, &e) {
			// Class 08: connection exception; 57P0x: shutdown, cannot
			// connect now; 53: insufficient resources.
			return strings.HasPrefix(e.Code, "08") || strings.HasPrefix(e.Code, "57P") || strings.HasPrefix(e.Code, "53")
		}
		var ne net.Error
		var ce *pgconn.ConnectError
		return errors.As(err, &ne) || errors.As(err, &ce) || pgconn.SafeToRetry(err) ||
			errors.Is(err, net.ErrClosed) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF)
	},
}
