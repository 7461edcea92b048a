package sqlstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// sqliteFileMode is the mode of the embedded database and its -wal and
// -shm files: they hold every BMC password in clear, so only the agent's
// own user may read them. SQLite gives the -wal and -shm files the mode of
// the database file (findCreateFileMode in its unix VFS), so creating the
// database file 0600 before SQLite opens it covers all three.
const sqliteFileMode fs.FileMode = 0o600

// ErrFileMode is returned by Open for an embedded database file (or its
// -wal/-shm file) that users other than its owner may read or write.
var ErrFileMode = errors.New("the database file is readable by other users")

// prepareSQLiteFile creates file with mode 0600 if it does not exist, and
// refuses one (or a -wal/-shm beside it) that others may access, with the
// command that fixes it.
func prepareSQLiteFile(file string) error {
	if file == ":memory:" || strings.HasPrefix(file, "file:") {
		return nil
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_EXCL, sqliteFileMode)
	switch {
	case err == nil:
		// The umask may only take bits away; make sure of the mode anyway.
		err = f.Chmod(sqliteFileMode)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("create %s: %w", file, err)
		}
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("create %s: %w", file, err)
	}
	var open []string
	for _, name := range []string{file, file + "-wal", file + "-shm"} {
		st, err := os.Stat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check %s: %w", name, err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			open = append(open, name)
		}
	}
	if len(open) > 0 {
		return fmt.Errorf("%w: %s (mode %s) holds BMC passwords; fix it with: chmod 600 %s",
			ErrFileMode, open[0], modeOf(open[0]), strings.Join(quoteAll(open), " "))
	}
	return nil
}

func modeOf(name string) string {
	st, err := os.Stat(name)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%04o", st.Mode().Perm())
}

// quoteAll quotes names for a shell where they need it.
func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		if strings.ContainsAny(n, " \t'\"\\$`;&|<>()*?[]{}!#~") {
			n = "'" + strings.ReplaceAll(n, "'", `'\''`) + "'"
		}
		out[i] = n
	}
	return out
}
