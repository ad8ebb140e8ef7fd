package gnmi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openconfig/gnmi/ctree"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
)

// Get implements gNMI Get (gNMI spec §3.3): each requested path (prefix +
// path, key wildcards allowed) is answered from the cache with one update per
// concrete matching node, its value the JSON or JSON_IETF subtree.
func (s *Server) Get(ctx context.Context, req *gpb.GetRequest) (*gpb.GetResponse, error) {
	resp, err := s.get(req)
	return resp, toStatus(err)
}

func (s *Server) get(req *gpb.GetRequest) (*gpb.GetResponse, error) {
	var ietf bool
	switch req.GetEncoding() {
	case gpb.Encoding_JSON:
	case gpb.Encoding_JSON_IETF:
		ietf = true
	default:
		return nil, fmt.Errorf("encoding %s is not supported (JSON, JSON_IETF): %w", req.GetEncoding(), errUnsupported)
	}
	if err := s.checkTarget(req.GetPrefix()); err != nil {
		return nil, err
	}
	paths := req.GetPath()
	if len(paths) == 0 {
		paths = []*gpb.Path{{}}
	}
	resp := &gpb.GetResponse{}
	for _, p := range paths {
		elems, err := joinPath(req.GetPrefix(), p)
		if err != nil {
			return nil, err
		}
		r, err := resolve(s.schema, elems, true)
		if err != nil {
			return nil, err
		}
		if r.node.keyLeaf {
			resp.Notification = append(resp.Notification, s.getKeyLeaf(r, ietf))
			continue
		}
		leaves := s.leavesUnder(r.elems, req.GetType())
		// A keyed entry that holds no data of any type does not exist; one
		// that only lacks data of the requested type answers empty.
		if len(leaves) == 0 && !r.wild && hasListKeys(r.elems) && len(s.leavesUnder(r.elems, gpb.GetRequest_ALL)) == 0 {
			return nil, fmt.Errorf("path %s: no such data: %w", FormatPath(r.elems), errNotFound)
		}
		n := &gpb.Notification{Timestamp: s.timestamp()}
		for _, g := range groupLeaves(r, leaves) {
			val, err := encodeTree(s.schema, g.elems, g.leaves, ietf, n.Timestamp)
			if err != nil {
				return nil, err
			}
			tv := &gpb.TypedValue{Value: &gpb.TypedValue_JsonVal{JsonVal: val}}
			if ietf {
				tv = &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: val}}
			}
			n.Update = append(n.Update, &gpb.Update{Path: &gpb.Path{Elem: g.elems}, Val: tv})
		}
		resp.Notification = append(resp.Notification, n)
	}
	return resp, nil
}

// getKeyLeaf answers a list-level key leaf (…/network-instance[name=*]/name,
// the usual way to list entries) from the keys of the entries that exist:
// the cache stores the key only in paths and config/<key>.
func (s *Server) getKeyLeaf(r resolved, ietf bool) *gpb.Notification {
	list := r.elems[:len(r.elems)-1]
	seen := map[string]bool{}
	n := &gpb.Notification{Timestamp: s.timestamp()}
	var keys []string // keys[i] is the path of n.Update[i]'s entry
	for _, l := range s.leavesUnder(list, gpb.GetRequest_ALL) {
		entry := l.elems[:len(list)]
		k := FormatPath(entry)
		if seen[k] {
			continue
		}
		seen[k] = true
		keys = append(keys, k)
		val, _ := json.Marshal(keyJSON(r.node.typ, entry[len(entry)-1].GetKey()[r.node.name], ietf))
		tv := &gpb.TypedValue{Value: &gpb.TypedValue_JsonVal{JsonVal: val}}
		if ietf {
			tv = &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: val}}
		}
		n.Update = append(n.Update, &gpb.Update{Path: &gpb.Path{Elem: append(slices.Clone(entry), &gpb.PathElem{Name: r.node.name})}, Val: tv})
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	sorted := make([]*gpb.Update, len(order))
	for i, j := range order {
		sorted[i] = n.Update[j]
	}
	n.Update = sorted
	return n
}

// checkTarget accepts an empty target or the server's own.
func (s *Server) checkTarget(prefix *gpb.Path) error {
	if t := prefix.GetTarget(); t != "" && t != s.opts.Target {
		return fmt.Errorf("target %q is not served (this is %q): %w", t, s.opts.Target, errNotFound)
	}
	return nil
}

func hasListKeys(elems []*gpb.PathElem) bool {
	for _, e := range elems {
		if len(e.GetKey()) > 0 {
			return true
		}
	}
	return false
}

// cachedLeaf is one leaf read from the cache.
type cachedLeaf struct {
	elems []*gpb.PathElem
	val   *gpb.TypedValue
	// ts is the leaf's notification timestamp (ns since the Unix epoch).
	ts int64
}

// leavesUnder returns the cached leaves at or under elems (globs allowed)
// of the given data type.
func (s *Server) leavesUnder(elems []*gpb.PathElem, typ gpb.GetRequest_DataType) []cachedLeaf {
	var out []cachedLeaf
	// The visitor gets the value with the leaf's read lock held; calling
	// l.Value() there would take it again and can deadlock with a writer.
	_ = s.cache.Query(s.opts.Target, cachePath(elems), func(_ []string, _ *ctree.Leaf, val any) error {
		n, ok := val.(*gpb.Notification)
		if !ok || len(n.GetUpdate()) == 0 {
			return nil
		}
		u := n.GetUpdate()[0]
		le := u.GetPath().GetElem()
		if !wantDataType(s.schema, le, typ) {
			return nil
		}
		out = append(out, cachedLeaf{elems: le, val: u.GetVal(), ts: n.GetTimestamp()})
		return nil
	})
	return out
}

// wantDataType filters a leaf by Get's data type: CONFIG leaves sit under a
// config container, STATE under state, OPERATIONAL is state minus config
// mirrors.
func wantDataType(root *schemaNode, elems []*gpb.PathElem, typ gpb.GetRequest_DataType) bool {
	if typ == gpb.GetRequest_ALL {
		return true
	}
	inConfig := false
	for _, e := range elems {
		if e.GetName() == "config" && len(e.GetKey()) == 0 {
			inConfig = true
		}
	}
	switch typ {
	case gpb.GetRequest_CONFIG:
		return inConfig
	case gpb.GetRequest_STATE:
		return !inConfig
	case gpb.GetRequest_OPERATIONAL:
		if inConfig {
			return false
		}
		n := schemaFor(root, elems)
		return n != nil && !n.mirror
	}
	return false
}

// leafGroup is the leaves under one concrete instance of a requested path.
type leafGroup struct {
	elems  []*gpb.PathElem
	leaves []cachedLeaf
	// key is FormatPath(elems): the group's identity and sort key.
	key string
}

// groupLeaves splits leaves by the concrete instance of r they lie under: a
// wildcard path yields one group (one update) per matching list entry,
// sorted by path.
//
// The cache walks its tree in order, so the leaves of one entry arrive
// together: a leaf under the same instance as the one before joins its
// group without its path being formatted, and each group's key is
// formatted once (not in every comparison of the sort).
func groupLeaves(r resolved, leaves []cachedLeaf) []leafGroup {
	if !r.wild {
		if len(leaves) == 0 {
			return nil
		}
		return []leafGroup{{elems: r.elems, leaves: leaves}}
	}
	index := map[string]int{}
	var groups []leafGroup
	last := -1
	for _, l := range leaves {
		base := l.elems[:len(r.elems)]
		if last < 0 || !slices.EqualFunc(base, groups[last].elems, sameElem) {
			k := FormatPath(base)
			i, ok := index[k]
			if !ok {
				i = len(groups)
				index[k] = i
				groups = append(groups, leafGroup{elems: base, key: k})
			}
			last = i
		}
		groups[last].leaves = append(groups[last].leaves, l)
	}
	slices.SortFunc(groups, func(a, b leafGroup) int { return strings.Compare(a.key, b.key) })
	return groups
}

// jsonList collects the entries of one YANG list while a tree is built;
// entries are sorted by key when the tree is finished.
type jsonList struct {
	keys    []string
	entries []map[string]any
	byKey   map[string]map[string]any
}

// encodeTree renders leaves under base as the JSON (RFC 7951 when ietf)
// value of the node at base, as of time now (ns since the Unix epoch).
func encodeTree(root *schemaNode, base []*gpb.PathElem, leaves []cachedLeaf, ietf bool, now int64) ([]byte, error) {
	node := schemaFor(root, base)
	if node == nil {
		return nil, fmt.Errorf("path %s is not in the schema: %w", FormatPath(base), errNotFound)
	}
	if node.kind == kindLeaf || node.kind == kindLeafList {
		return json.Marshal(encodeJSONScalar(node.typ, valueAt(node, leaves[0], now), ietf))
	}
	top := map[string]any{}
	if node.kind == kindList {
		addKeys(top, node, base[len(base)-1], ietf)
	}
	for _, l := range leaves {
		insertLeaf(top, node, l.elems[len(base):], l, ietf, now)
	}
	return json.Marshal(finishTree(top))
}

// valueAt is leaf l's value at time now: a countsUp leaf (an age) has
// grown by the whole seconds since its notification. The value published
// held at that timestamp, so the result is at most a second low.
func valueAt(node *schemaNode, l cachedLeaf, now int64) *gpb.TypedValue {
	if !node.countsUp || now <= l.ts {
		return l.val
	}
	u, ok := l.val.GetValue().(*gpb.TypedValue_UintVal)
	if !ok {
		return l.val
	}
	return uintVal(u.UintVal + uint64((now-l.ts)/int64(time.Second)))
}

func memberName(child, parent *schemaNode, ietf bool) string {
	if ietf && child.module != parent.module {
		return child.module + ":" + child.name
	}
	return child.name
}

func addKeys(obj map[string]any, list *schemaNode, e *gpb.PathElem, ietf bool) {
	for _, k := range list.keys {
		kl := list.children[k]
		obj[memberName(kl, list, ietf)] = keyJSON(kl.typ, e.GetKey()[k], ietf)
	}
}

func insertLeaf(obj map[string]any, node *schemaNode, rel []*gpb.PathElem, l cachedLeaf, ietf bool, now int64) {
	for i, e := range rel {
		child := node.children[e.GetName()]
		if child == nil {
			return // a leaf outside the schema: nothing to render
		}
		name := memberName(child, node, ietf)
		switch {
		case i == len(rel)-1:
			obj[name] = encodeJSONScalar(child.typ, valueAt(child, l, now), ietf)
			return
		case child.kind == kindList:
			l, _ := obj[name].(*jsonList)
			if l == nil {
				l = &jsonList{byKey: map[string]map[string]any{}}
				obj[name] = l
			}
			k := FormatPath([]*gpb.PathElem{e})
			entry := l.byKey[k]
			if entry == nil {
				entry = map[string]any{}
				addKeys(entry, child, e, ietf)
				l.byKey[k] = entry
				l.keys = append(l.keys, k)
				l.entries = append(l.entries, entry)
			}
			obj = entry
		default:
			sub, _ := obj[name].(map[string]any)
			if sub == nil {
				sub = map[string]any{}
				obj[name] = sub
			}
			obj = sub
		}
		node = child
	}
}

// finishTree replaces jsonLists by key-sorted arrays.
func finishTree(obj map[string]any) map[string]any {
	for k, v := range obj {
		switch x := v.(type) {
		case *jsonList:
			order := make([]int, len(x.entries))
			for i := range order {
				order[i] = i
			}
			slices.SortFunc(order, func(a, b int) int { return strings.Compare(x.keys[a], x.keys[b]) })
			arr := make([]any, len(order))
			for i, j := range order {
				arr[i] = finishTree(x.entries[j])
			}
			obj[k] = arr
		case map[string]any:
			finishTree(x)
		}
	}
	return obj
}
