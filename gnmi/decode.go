package gnmi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
)

// decoder turns the value of one Set update into config leaves, checking
// every member name and value against the schema.
type decoder struct {
	out leafSet
}

// decodeValue decodes tv, the value for the node at elems, into d.out.
func (d *decoder) decodeValue(node *schemaNode, elems []*gpb.PathElem, tv *gpb.TypedValue) error {
	var raw []byte
	switch x := tv.GetValue().(type) {
	case *gpb.TypedValue_JsonIetfVal:
		raw = x.JsonIetfVal
	case *gpb.TypedValue_JsonVal:
		raw = x.JsonVal
	case nil:
		return fmt.Errorf("path %s: update has no value: %w", FormatPath(elems), errInvalid)
	default:
		if node.kind != kindLeaf && node.kind != kindLeafList {
			return fmt.Errorf("path %s: a %T value fits a leaf only; use json_ietf_val for a subtree: %w", FormatPath(elems), tv.GetValue(), errInvalid)
		}
		if err := d.checkWritable(node, elems); err != nil {
			return err
		}
		c, err := decodeScalar(node, tv)
		if err != nil {
			return fmt.Errorf("path %s: bad value: %w: %w", FormatPath(elems), err, errInvalid)
		}
		d.out.put(elems, c)
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("path %s: value %q is not JSON: %w: %w", FormatPath(elems), truncate(raw), err, errInvalid)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("path %s: value %q has data after the JSON value: %w", FormatPath(elems), truncate(raw), errInvalid)
	}
	return d.decode(node, elems, v)
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// checkWritable refuses leaves that Set cannot write: state (config false)
// and the list-level key leaves, whose value is the path's key.
func (d *decoder) checkWritable(node *schemaNode, elems []*gpb.PathElem) error {
	if !node.config && !node.keyLeaf {
		return fmt.Errorf("path %s is state (config false) and cannot be set: %w", FormatPath(elems), errInvalid)
	}
	return nil
}

func (d *decoder) decode(node *schemaNode, elems []*gpb.PathElem, v any) error {
	switch node.kind {
	case kindLeaf:
		if node.keyLeaf {
			return d.checkKeyLeaf(node, elems, v)
		}
		if err := d.checkWritable(node, elems); err != nil {
			return err
		}
		tv, err := decodeJSONScalar(node.typ, v)
		if err != nil {
			return fmt.Errorf("path %s: bad value: %w: %w", FormatPath(elems), err, errInvalid)
		}
		d.out.put(elems, tv)
		return nil
	case kindLeafList:
		if err := d.checkWritable(node, elems); err != nil {
			return err
		}
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("path %s: bad value %v: a leaf-list needs a JSON array, got %s: %w", FormatPath(elems), v, jsonKind(v), errInvalid)
		}
		out := &gpb.ScalarArray{}
		for _, e := range arr {
			tv, err := decodeJSONScalar(node.typ, e)
			if err != nil {
				return fmt.Errorf("path %s: bad value: %w: %w", FormatPath(elems), err, errInvalid)
			}
			out.Element = append(out.Element, tv)
		}
		d.out.put(elems, &gpb.TypedValue{Value: &gpb.TypedValue_LeaflistVal{LeaflistVal: out}})
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("path %s: bad value %v: want a JSON object, got %s: %w", FormatPath(elems), v, jsonKind(v), errInvalid)
	}
	if node.kind == kindList {
		d.addKeyLeaves(node, elems)
	}
	for _, name := range sortedKeys(obj) {
		c := node.child(name)
		if c == nil {
			return fmt.Errorf("path %s: unknown member %q: %w", FormatPath(elems), name, errNotFound)
		}
		if c.name == "state" && !c.config {
			return fmt.Errorf("path %s/state is read-only (config false); send only config: %w", FormatPath(elems), errInvalid)
		}
		child := withChild(elems, c.name)
		if c.kind == kindList {
			if err := d.decodeList(c, child, obj[name]); err != nil {
				return err
			}
			continue
		}
		if err := d.decode(c, child, obj[name]); err != nil {
			return err
		}
	}
	return nil
}

// decodeList decodes a JSON array of list entries; each entry carries its
// keys as members.
func (d *decoder) decodeList(list *schemaNode, elems []*gpb.PathElem, v any) error {
	arr, ok := v.([]any)
	if !ok {
		return fmt.Errorf("path %s: bad value: list %s needs a JSON array, got %s: %w", FormatPath(elems), list.name, jsonKind(v), errInvalid)
	}
	for i, e := range arr {
		obj, ok := e.(map[string]any)
		if !ok {
			return fmt.Errorf("path %s: entry %d is %s, want an object: %w", FormatPath(elems), i, jsonKind(e), errInvalid)
		}
		key := map[string]string{}
		for _, k := range list.keys {
			kv, ok := memberValue(obj, list.children[k], list)
			if !ok {
				return fmt.Errorf("path %s: entry %d lacks key %q: %w", FormatPath(elems), i, k, errInvalid)
			}
			s, err := keyString(list.children[k].typ, kv)
			if err != nil {
				return fmt.Errorf("path %s: entry %d key %s: %w: %w", FormatPath(elems), i, k, err, errInvalid)
			}
			key[k] = s
		}
		entry := slices.Clone(elems)
		entry[len(entry)-1] = &gpb.PathElem{Name: list.name, Key: key}
		if err := d.decode(list, entry, obj); err != nil {
			return err
		}
	}
	return nil
}

// memberValue finds a member by bare or module-qualified name.
func memberValue(obj map[string]any, child, parent *schemaNode) (any, bool) {
	if v, ok := obj[child.name]; ok {
		return v, true
	}
	v, ok := obj[child.module+":"+child.name]
	return v, ok
}

// keyString canonicalizes a key value from JSON into its path form.
func keyString(t *leafType, v any) (string, error) {
	tv, err := decodeJSONScalar(t, v)
	if err != nil {
		return "", err
	}
	switch x := tv.GetValue().(type) {
	case *gpb.TypedValue_UintVal:
		return strconv.FormatUint(x.UintVal, 10), nil
	case *gpb.TypedValue_BoolVal:
		return strconv.FormatBool(x.BoolVal), nil
	}
	return tv.GetStringVal(), nil
}

// checkKeyLeaf accepts a list-level key leaf only when it repeats the key
// of the entry's path.
func (d *decoder) checkKeyLeaf(node *schemaNode, elems []*gpb.PathElem, v any) error {
	entry := elems[len(elems)-2]
	s, err := keyString(node.typ, v)
	if err != nil {
		return fmt.Errorf("path %s: bad value: %w: %w", FormatPath(elems), err, errInvalid)
	}
	if want := entry.GetKey()[node.name]; s != want {
		return fmt.Errorf("path %s: key value %q differs from the path's %q: %w", FormatPath(elems), s, want, errInvalid)
	}
	return nil
}

// addKeyLeaves adds config/<key> for a list entry: YANG makes the
// list-level key a leafref to it, so an entry always has it.
func (d *decoder) addKeyLeaves(list *schemaNode, entry []*gpb.PathElem) {
	cfg := list.children["config"]
	if cfg == nil {
		return
	}
	e := entry[len(entry)-1]
	for _, k := range list.keys {
		kl := cfg.children[k]
		if kl == nil {
			continue
		}
		tv, err := parseKey(kl.typ, e.GetKey()[k])
		if err != nil {
			continue // resolve already checked the key
		}
		d.out.put(withChild(entry, "config", k), tv)
	}
}

// addPathKeys adds config/<key> leaves for every list entry along elems.
func (d *decoder) addPathKeys(root *schemaNode, elems []*gpb.PathElem) {
	n := root
	for i, e := range elems {
		if n = n.children[e.GetName()]; n == nil {
			return
		}
		if n.kind == kindList && len(e.GetKey()) > 0 {
			d.addKeyLeaves(n, elems[:i+1])
		}
	}
}
