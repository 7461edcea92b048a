package sqlstore

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/bmc-agent/bmc-agent/store"
)

// Column codecs. Every scan target implements sql.Scanner so that one code
// path scans both database rows and the JSON arrays that carry a node's
// ports, connectors and targets (where numbers arrive as float64 and
// booleans may arrive as 0/1).

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
	case float64:
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
	case float64:
		if v != math.Trunc(v) {
			return 0, false, fmt.Errorf("integer column: %v is not whole", v)
		}
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
	case map[string]any:
		*c.p = v
		return nil
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

// scanJSONRows decodes a JSON array of row arrays into fresh values of T.
func scanJSONRows[T any](raw []byte, ptrs func(*T) []any) ([]*T, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var rows [][]any
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("decode rows: %w", err)
	}
	out := make([]*T, 0, len(rows))
	for _, row := range rows {
		x := new(T)
		ps := ptrs(x)
		if len(row) != len(ps) {
			return nil, fmt.Errorf("decode rows: %d values for %d columns", len(row), len(ps))
		}
		for i, p := range ps {
			if err := p.(interface{ Scan(any) error }).Scan(row[i]); err != nil {
				return nil, err
			}
		}
		out = append(out, x)
	}
	return out, nil
}
