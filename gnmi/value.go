package gnmi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
)

// Canonical leaf values, as stored in the cache and sent in Subscribe
// notifications: StringVal for strings, enums and identityrefs (bare
// identity name), BoolVal, UintVal, and LeaflistVal for leaf-lists.

// parseKey checks a list key value from a path and returns it canonical.
func parseKey(t *leafType, s string) (*gpb.TypedValue, error) {
	switch t.kind {
	case valUint:
		u, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a %s", s, t.name)
		}
		return checkUint(t, u)
	case valBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean", s)
		}
		return &gpb.TypedValue{Value: &gpb.TypedValue_BoolVal{BoolVal: b}}, nil
	}
	return parseString(t, s)
}

func checkUint(t *leafType, u uint64) (*gpb.TypedValue, error) {
	if u < t.min || u > t.max {
		return nil, fmt.Errorf("%d is out of range %d..%d for %s", u, t.min, t.max, t.name)
	}
	return &gpb.TypedValue{Value: &gpb.TypedValue_UintVal{UintVal: u}}, nil
}

// parseString checks a string-typed value (string, pattern, enum,
// identityref) and returns it canonical; an identityref may come
// module-qualified.
func parseString(t *leafType, s string) (*gpb.TypedValue, error) {
	switch t.kind {
	case valEnum:
		if !t.allows(s) {
			return nil, fmt.Errorf("%q is not one of %s", s, strings.Join(t.values, "|"))
		}
	case valIdentity:
		if i := strings.IndexByte(s, ':'); i >= 0 {
			if s[:i] != t.identModule {
				return nil, fmt.Errorf("identity %q is not from module %s", s, t.identModule)
			}
			s = s[i+1:]
		}
		if !t.allows(s) {
			return nil, fmt.Errorf("identity %q is not one of %s", s, strings.Join(t.values, "|"))
		}
	case valString:
		if t.check != nil {
			if err := t.check(s); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("%q is a string, want %s", s, t.name)
	}
	return &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: s}}, nil
}

// decodeJSONScalar converts one decoded JSON value (json.Number, string,
// bool) into the canonical value for t. 64-bit integers may be strings
// (RFC 7951 §6.1).
func decodeJSONScalar(t *leafType, v any) (*gpb.TypedValue, error) {
	switch t.kind {
	case valUint:
		var s string
		switch x := v.(type) {
		case json.Number:
			s = x.String()
		case string:
			if t.bits != 64 {
				return nil, fmt.Errorf("%q is a string, want a JSON number for %s", x, t.name)
			}
			s = x
		default:
			return nil, fmt.Errorf("%v (%s) is not a %s", v, jsonKind(v), t.name)
		}
		u, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not a %s", s, t.name)
		}
		return checkUint(t, u)
	case valBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%v (%s) is not a boolean", v, jsonKind(v))
		}
		return &gpb.TypedValue{Value: &gpb.TypedValue_BoolVal{BoolVal: b}}, nil
	default:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%v (%s) is not a string for %s", v, jsonKind(v), t.name)
		}
		return parseString(t, s)
	}
}

// decodeScalar converts a non-JSON TypedValue from a Set into the canonical
// value for a leaf or leaf-list node.
func decodeScalar(n *schemaNode, tv *gpb.TypedValue) (*gpb.TypedValue, error) {
	if n.kind == kindLeafList {
		ll, ok := tv.GetValue().(*gpb.TypedValue_LeaflistVal)
		if !ok {
			return nil, fmt.Errorf("leaf-list needs a leaflist_val, got %T", tv.GetValue())
		}
		out := &gpb.ScalarArray{}
		for _, e := range ll.LeaflistVal.GetElement() {
			c, err := decodeLeafScalar(n.typ, e)
			if err != nil {
				return nil, err
			}
			out.Element = append(out.Element, c)
		}
		return &gpb.TypedValue{Value: &gpb.TypedValue_LeaflistVal{LeaflistVal: out}}, nil
	}
	return decodeLeafScalar(n.typ, tv)
}

func decodeLeafScalar(t *leafType, tv *gpb.TypedValue) (*gpb.TypedValue, error) {
	switch x := tv.GetValue().(type) {
	case *gpb.TypedValue_StringVal:
		if t.kind == valUint || t.kind == valBool {
			return nil, fmt.Errorf("string %q is not a %s", x.StringVal, t.name)
		}
		return parseString(t, x.StringVal)
	case *gpb.TypedValue_UintVal:
		if t.kind != valUint {
			return nil, fmt.Errorf("uint %d is not a %s", x.UintVal, t.name)
		}
		return checkUint(t, x.UintVal)
	case *gpb.TypedValue_IntVal:
		if t.kind != valUint || x.IntVal < 0 {
			return nil, fmt.Errorf("int %d is not a %s", x.IntVal, t.name)
		}
		return checkUint(t, uint64(x.IntVal))
	case *gpb.TypedValue_BoolVal:
		if t.kind != valBool {
			return nil, fmt.Errorf("bool %t is not a %s", x.BoolVal, t.name)
		}
		return tv, nil
	default:
		return nil, fmt.Errorf("value of type %T is not a %s", tv.GetValue(), t.name)
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case json.Number:
		return "number"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// encodeJSONScalar renders a canonical value for JSON (ietf false) or
// JSON_IETF (ietf true): RFC 7951 puts 64-bit integers in strings and
// qualifies identities with their module.
func encodeJSONScalar(t *leafType, tv *gpb.TypedValue, ietf bool) any {
	switch x := tv.GetValue().(type) {
	case *gpb.TypedValue_LeaflistVal:
		out := make([]any, 0, len(x.LeaflistVal.GetElement()))
		for _, e := range x.LeaflistVal.GetElement() {
			out = append(out, encodeJSONScalar(t, e, ietf))
		}
		return out
	case *gpb.TypedValue_UintVal:
		if ietf && t != nil && t.bits == 64 {
			return strconv.FormatUint(x.UintVal, 10)
		}
		return x.UintVal
	case *gpb.TypedValue_BoolVal:
		return x.BoolVal
	case *gpb.TypedValue_StringVal:
		if ietf && t != nil && t.kind == valIdentity {
			return t.identModule + ":" + x.StringVal
		}
		return x.StringVal
	case *gpb.TypedValue_IntVal:
		return x.IntVal
	}
	return nil
}

// keyJSON renders a list key value from a path for JSON output.
func keyJSON(t *leafType, s string, ietf bool) any {
	tv, err := parseKey(t, s)
	if err != nil {
		return s
	}
	return encodeJSONScalar(t, tv, ietf)
}

// stringVal, boolVal and uintVal build canonical values.
func stringVal(s string) *gpb.TypedValue {
	return &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: s}}
}

func boolVal(b bool) *gpb.TypedValue {
	return &gpb.TypedValue{Value: &gpb.TypedValue_BoolVal{BoolVal: b}}
}

func uintVal(u uint64) *gpb.TypedValue {
	return &gpb.TypedValue{Value: &gpb.TypedValue_UintVal{UintVal: u}}
}

func stringsVal(ss []string) *gpb.TypedValue {
	arr := &gpb.ScalarArray{Element: make([]*gpb.TypedValue, len(ss))}
	for i, s := range ss {
		arr.Element[i] = stringVal(s)
	}
	return &gpb.TypedValue{Value: &gpb.TypedValue_LeaflistVal{LeaflistVal: arr}}
}
