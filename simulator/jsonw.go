package simulator

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// jw appends JSON to a byte slice without reflection: the hot resources
// (ComputerSystem above all) are rendered with it. Commas are placed
// automatically: every value and key writes one if the previous token needs
// it.
type jw struct {
	b     []byte
	comma bool
}

func (w *jw) sep() {
	if w.comma {
		w.b = append(w.b, ',')
	}
}

// obj opens an object; end closes it.
func (w *jw) obj() { w.sep(); w.b = append(w.b, '{'); w.comma = false }
func (w *jw) end() { w.b = append(w.b, '}'); w.comma = true }

// arr opens an array; endArr closes it.
func (w *jw) arr()    { w.sep(); w.b = append(w.b, '['); w.comma = false }
func (w *jw) endArr() { w.b = append(w.b, ']'); w.comma = true }

// key writes an object key.
func (w *jw) key(k string) {
	w.sep()
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':')
	w.comma = false
}

func (w *jw) str(v string) { w.sep(); w.b = appendJSONString(w.b, v); w.comma = true }
func (w *jw) int(v int)    { w.sep(); w.b = strconv.AppendInt(w.b, int64(v), 10); w.comma = true }
func (w *jw) bool(v bool)  { w.sep(); w.b = strconv.AppendBool(w.b, v); w.comma = true }
func (w *jw) null()        { w.sep(); w.b = append(w.b, "null"...); w.comma = true }
func (w *jw) raw(v []byte) { w.sep(); w.b = append(w.b, v...); w.comma = true }
func (w *jw) float(v float64) {
	w.sep()
	w.b = strconv.AppendFloat(w.b, v, 'g', -1, 64)
	w.comma = true
}

// kv writes "k":"v".
func (w *jw) kv(k, v string) { w.key(k); w.str(v) }

// link writes "k":{"@odata.id":"v"}.
func (w *jw) link(k, v string) { w.key(k); w.linkObj(v) }

// linkObj writes {"@odata.id":"v"}.
func (w *jw) linkObj(v string) { w.obj(); w.kv("@odata.id", v); w.end() }

// strs writes an array of strings.
func strs[T ~string](w *jw, vs []T) {
	w.arr()
	for _, v := range vs {
		w.str(string(v))
	}
	w.endArr()
}

// any writes an arbitrary value with encoding/json (for BIOS attributes).
func (w *jw) any(v any) {
	switch x := v.(type) {
	case string:
		w.str(x)
	case bool:
		w.bool(x)
	case int:
		w.int(x)
	case float64:
		w.float(x)
	case nil:
		w.null()
	default:
		b, err := json.Marshal(x)
		if err != nil {
			w.null()
			return
		}
		w.raw(b)
	}
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 is replaced.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
