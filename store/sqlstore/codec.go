package sqlstore

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	"github.com/bmc-agent/bmc-agent/store"
)

// Column codecs: scan targets (sql.Scanner) for what both databases store
// differently or as NULL: booleans (SQLite's are 0 and 1), nullable text,
// times in microseconds, and JSON objects in TEXT columns.

type text struct{ p *string }

func (c text) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.p = ""
	case string:
		*c.p = v
	case []byte:
		*c.p = string(v)
	default:
		return fmt.Errorf("text column: unexpected %T", src)
	}
	return nil
}

type boolean struct{ p *bool }

func (c boolean) Scan(src any) error {
	switch v := src.(type) {
	case bool:
		*c.p = v
	case int64:
		*c.p = v != 0
	case nil:
		*c.p = false
	default:
		return fmt.Errorf("boolean column: unexpected %T", src)
	}
	return nil
}

func toInt64(src any) (int64, bool, error) {
	switch v := src.(type) {
	case nil:
		return 0, false, nil
	case int64:
		return v, true, nil
	case int32:
		return int64(v), true, nil
	}
	return 0, false, fmt.Errorf("integer column: unexpected %T", src)
}

type integer struct{ p *int64 }

func (c integer) Scan(src any) error {
	v, _, err := toInt64(src)
	*c.p = v
	return err
}

type intcol struct{ p *int }

func (c intcol) Scan(src any) error {
	v, _, err := toInt64(src)
	*c.p = int(v)
	return err
}

// micros is a NOT NULL time column in microseconds since the epoch.
type micros struct{ p *time.Time }

func (c micros) Scan(src any) error {
	v, _, err := toInt64(src)
	*c.p = time.UnixMicro(v).UTC()
	return err
}

// nullMicros is a nullable time column.
type nullMicros struct{ p **time.Time }

func (c nullMicros) Scan(src any) error {
	v, ok, err := toInt64(src)
	if err != nil || !ok {
		*c.p = nil
		return err
	}
	t := time.UnixMicro(v).UTC()
	*c.p = &t
	return nil
}

// object is a JSON object stored as TEXT.
type object struct{ p *store.JSON }

func (c object) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*c.p = store.JSON{}
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("JSON column: unexpected %T", src)
	}
	if string(b) == "{}" { // most extra and instance_info columns
		*c.p = store.JSON{}
		return nil
	}
	m := store.JSON{}
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("JSON column: %w", err)
	}
	*c.p = m
	return nil
}

// jsonValue encodes m for a TEXT column; nil is the empty object.
func jsonValue(m store.JSON) (driver.Value, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

type jsonArg store.JSON

func (j jsonArg) Value() (driver.Value, error) { return jsonValue(store.JSON(j)) }

// nullable returns nil (SQL NULL) for "".
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
