package gnmi

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
)

// leafEntry is one config leaf: its normalized path and canonical value.
type leafEntry struct {
	elems []*gpb.PathElem
	val   *gpb.TypedValue
}

// leafSet is a set of leaves keyed by FormatPath of their elems. Set edits a
// copy of the running config as a leafSet, then binds it back to a Config.
type leafSet map[string]leafEntry

func (s leafSet) put(elems []*gpb.PathElem, val *gpb.TypedValue) {
	s[FormatPath(elems)] = leafEntry{elems: elems, val: val}
}

// clone returns a copy that can be edited without touching s; entries are
// immutable, so a shallow copy suffices.
func (s leafSet) clone() leafSet {
	out := make(leafSet, len(s))
	for k, v := range s {
		out[k] = v
	}
	return out
}

// fieldTag is a parsed oc/key struct tag.
type fieldTag struct {
	names []string
	// key is the list key the Go map is keyed by; fixed holds pinned keys.
	key   string
	fixed map[string]string
}

func parseTag(f reflect.StructField) (fieldTag, bool) {
	oc, ok := f.Tag.Lookup("oc")
	if !ok {
		return fieldTag{}, false
	}
	t := fieldTag{names: strings.Split(oc, "/")}
	if k, ok := f.Tag.Lookup("key"); ok {
		for _, part := range strings.Split(k, ",") {
			if name, val, pinned := strings.Cut(part, "="); pinned {
				if t.fixed == nil {
					t.fixed = map[string]string{}
				}
				t.fixed[name] = val
			} else {
				t.key = part
			}
		}
	}
	return t, true
}

func (t fieldTag) elems(prefix []*gpb.PathElem) []*gpb.PathElem {
	out := make([]*gpb.PathElem, 0, len(prefix)+len(t.names))
	out = append(out, prefix...)
	for _, n := range t.names {
		out = append(out, &gpb.PathElem{Name: n})
	}
	return out
}

func withChild(prefix []*gpb.PathElem, names ...string) []*gpb.PathElem {
	out := make([]*gpb.PathElem, 0, len(prefix)+len(names))
	out = append(out, prefix...)
	for _, n := range names {
		out = append(out, &gpb.PathElem{Name: n})
	}
	return out
}

// configLeaves renders c as config leaves (…/config/<leaf>), including the
// config/<key> leaf of every list entry.
func configLeaves(c *Config) leafSet {
	out := leafSet{}
	if c != nil {
		emitStruct(reflect.ValueOf(c).Elem(), nil, out)
	}
	return out
}

func emitStruct(v reflect.Value, prefix []*gpb.PathElem, out leafSet) {
	t := v.Type()
	for i := range t.NumField() {
		tag, ok := parseTag(t.Field(i))
		if !ok {
			continue
		}
		fv := v.Field(i)
		elems := tag.elems(prefix)
		switch fv.Kind() {
		case reflect.Map:
			iter := fv.MapRange()
			for iter.Next() {
				if iter.Value().IsNil() {
					continue
				}
				keys := map[string]string{tag.key: mapKeyString(iter.Key())}
				for k, v := range tag.fixed {
					keys[k] = v
				}
				entry := slices.Clone(elems)
				entry[len(entry)-1] = &gpb.PathElem{Name: tag.names[len(tag.names)-1], Key: keys}
				emitStruct(iter.Value().Elem(), entry, out)
				for k, v := range keys {
					if iter.Key().Kind() == reflect.String || k != tag.key {
						out.put(withChild(entry, "config", k), stringVal(v))
					} else {
						out.put(withChild(entry, "config", k), uintVal(iter.Key().Uint()))
					}
				}
			}
		case reflect.Struct:
			emitStruct(fv, elems, out)
		default:
			if tv := scalarOf(fv); tv != nil {
				out.put(elems, tv)
			}
		}
	}
}

func mapKeyString(k reflect.Value) string {
	if k.Kind() == reflect.String {
		return k.String()
	}
	return strconv.FormatUint(k.Uint(), 10)
}

// scalarOf returns the canonical value of a scalar field, nil when unset.
func scalarOf(v reflect.Value) *gpb.TypedValue {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
		if v.Kind() == reflect.Bool {
			return boolVal(v.Bool())
		}
		return uintVal(v.Uint())
	}
	switch v.Kind() {
	case reflect.String:
		if v.String() == "" {
			return nil
		}
		return stringVal(v.String())
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if v.Uint() == 0 {
			return nil
		}
		return uintVal(v.Uint())
	case reflect.Slice:
		if v.Len() == 0 {
			return nil
		}
		return stringsVal(v.Interface().([]string))
	}
	panic(fmt.Sprintf("gnmi: config field of kind %s has no leaf encoding", v.Kind()))
}

// configFromLeaves binds config leaves to a new Config. Every leaf must have
// a field; the schema test proves the two agree.
func configFromLeaves(s leafSet) (*Config, error) {
	c := &Config{}
	root := reflect.ValueOf(c).Elem()
	for _, l := range s {
		if err := bindLeaf(root, l.elems, l.val); err != nil {
			return nil, fmt.Errorf("%s: %w", FormatPath(l.elems), err)
		}
	}
	return c, nil
}

func bindLeaf(v reflect.Value, elems []*gpb.PathElem, tv *gpb.TypedValue) error {
	t := v.Type()
	for i := range t.NumField() {
		tag, ok := parseTag(t.Field(i))
		if !ok || len(elems) < len(tag.names) || !namesMatch(tag.names, elems) {
			continue
		}
		fv := v.Field(i)
		n := len(tag.names)
		switch fv.Kind() {
		case reflect.Map:
			if len(elems) == n {
				return fmt.Errorf("list %s is not a leaf", tag.names[n-1])
			}
			last := elems[n-1]
			for k, want := range tag.fixed {
				if got := last.GetKey()[k]; got != want {
					return fmt.Errorf("key %s=%q is not served (only %q): %w", k, got, want, errInvalid)
				}
			}
			mk, err := mapKey(fv.Type().Key(), last.GetKey()[tag.key])
			if err != nil {
				return err
			}
			if fv.IsNil() {
				fv.Set(reflect.MakeMap(fv.Type()))
			}
			ev := fv.MapIndex(mk)
			if !ev.IsValid() {
				ev = reflect.New(fv.Type().Elem().Elem())
				fv.SetMapIndex(mk, ev)
			}
			return bindLeaf(ev.Elem(), elems[n:], tv)
		case reflect.Struct:
			if len(elems) == n {
				return fmt.Errorf("container %s is not a leaf", tag.names[n-1])
			}
			return bindLeaf(fv, elems[n:], tv)
		default:
			if len(elems) != n {
				continue
			}
			return setScalar(fv, tv)
		}
	}
	return fmt.Errorf("no config field binds %s", FormatPath(elems))
}

func namesMatch(names []string, elems []*gpb.PathElem) bool {
	for i, n := range names {
		if elems[i].GetName() != n {
			return false
		}
	}
	return true
}

func mapKey(t reflect.Type, s string) (reflect.Value, error) {
	if t.Kind() == reflect.String {
		return reflect.ValueOf(s).Convert(t), nil
	}
	u, err := strconv.ParseUint(s, 10, t.Bits())
	if err != nil {
		return reflect.Value{}, fmt.Errorf("key %q is not a uint%d: %w", s, t.Bits(), errInvalid)
	}
	return reflect.ValueOf(u).Convert(t), nil
}

func setScalar(v reflect.Value, tv *gpb.TypedValue) error {
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		if err := setScalar(p.Elem(), tv); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	switch x := tv.GetValue().(type) {
	case *gpb.TypedValue_StringVal:
		if v.Kind() == reflect.String {
			v.SetString(x.StringVal)
			return nil
		}
	case *gpb.TypedValue_UintVal:
		switch v.Kind() {
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if v.OverflowUint(x.UintVal) {
				return fmt.Errorf("%d overflows %s: %w", x.UintVal, v.Type(), errInvalid)
			}
			v.SetUint(x.UintVal)
			return nil
		}
	case *gpb.TypedValue_BoolVal:
		if v.Kind() == reflect.Bool {
			v.SetBool(x.BoolVal)
			return nil
		}
	case *gpb.TypedValue_LeaflistVal:
		if v.Kind() == reflect.Slice {
			ss := make([]string, 0, len(x.LeaflistVal.GetElement()))
			for _, e := range x.LeaflistVal.GetElement() {
				ss = append(ss, e.GetStringVal())
			}
			v.Set(reflect.ValueOf(ss))
			return nil
		}
	}
	return fmt.Errorf("value %v does not fit field of type %s", tv, v.Type())
}

// stateMirror returns the …/state/<leaf> twin of a …/config/<leaf> path.
func stateMirror(elems []*gpb.PathElem) []*gpb.PathElem {
	out := slices.Clone(elems)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i].GetName() == "config" && len(out[i].GetKey()) == 0 {
			out[i] = &gpb.PathElem{Name: "state"}
			break
		}
	}
	return out
}
