package gnmi

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
)

// Error kinds; the RPC edge maps them to gRPC codes (status.go). Inside the
// package errors stay plain Go errors that wrap one of these.
var (
	errNotFound     = errors.New("not found")
	errInvalid      = errors.New("invalid argument")
	errPermission   = errors.New("permission denied")
	errUnauthorized = errors.New("unauthenticated")
	errUnsupported  = errors.New("unimplemented")
	errDevice       = errors.New("device rejected the configuration")
)

// glob is the wildcard key value and element name.
const glob = "*"

// defaultOrigin is the origin of every served path (gNMI spec §2.7.1); an
// empty origin means the same.
const defaultOrigin = "openconfig"

// FormatPath prints elems the way gNMI path conventions do, keys sorted by
// name and key values escaped: /network-instances/network-instance[name=blue]/config/type.
// Clients (evpnctl) name paths in their messages the way the server does.
func FormatPath(elems []*gpb.PathElem) string {
	if len(elems) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, e := range elems {
		b.WriteByte('/')
		b.WriteString(e.GetName())
		keys := make([]string, 0, len(e.GetKey()))
		for k := range e.GetKey() {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b.WriteByte('[')
			b.WriteString(k)
			b.WriteByte('=')
			v := e.GetKey()[k]
			v = strings.ReplaceAll(v, `\`, `\\`)
			v = strings.ReplaceAll(v, `]`, `\]`)
			b.WriteString(v)
			b.WriteByte(']')
		}
	}
	return b.String()
}

// underPath reports whether the canonical path s is p or lies below it.
func underPath(s, p string) bool {
	if p == "/" {
		return true
	}
	if !strings.HasPrefix(s, p) {
		return false
	}
	rest := s[len(p):]
	return rest == "" || rest[0] == '/' || rest[0] == '['
}

// joinPath joins a request prefix and path into one list of elements and
// checks the origin: only "openconfig" (or none) is served.
func joinPath(prefix, p *gpb.Path) ([]*gpb.PathElem, error) {
	for _, o := range []string{prefix.GetOrigin(), p.GetOrigin()} {
		if o != "" && o != defaultOrigin {
			return nil, fmt.Errorf("origin %q is not served (only %q): %w", o, defaultOrigin, errNotFound)
		}
	}
	pre, err := pathElems(prefix)
	if err != nil {
		return nil, err
	}
	rest, err := pathElems(p)
	if err != nil {
		return nil, err
	}
	return append(slices.Clip(pre), rest...), nil
}

// pathElems returns p's elems, converting the deprecated element field
// ("network-instance[name=blue]" strings) that gnmi_cli still sends.
func pathElems(p *gpb.Path) ([]*gpb.PathElem, error) {
	//lint:ignore SA1019 gnmi_cli v0.14.1 still sends the deprecated field.
	element := p.GetElement()
	if len(p.GetElem()) > 0 || len(element) == 0 {
		return p.GetElem(), nil
	}
	out := make([]*gpb.PathElem, 0, len(element))
	for _, s := range element {
		e, err := parseElement(s)
		if err != nil {
			return nil, fmt.Errorf("path element %q: %w: %w", s, err, errInvalid)
		}
		out = append(out, e)
	}
	return out, nil
}

// parseElement parses name[k=v][k2=v2], with \] and \\ escapes in values.
func parseElement(s string) (*gpb.PathElem, error) {
	i := strings.IndexByte(s, '[')
	if i < 0 {
		return &gpb.PathElem{Name: s}, nil
	}
	e := &gpb.PathElem{Name: s[:i], Key: map[string]string{}}
	rest := s[i:]
	for rest != "" {
		if rest[0] != '[' {
			return nil, fmt.Errorf("expected '[' at %q", rest)
		}
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return nil, fmt.Errorf("key without '=' at %q", rest)
		}
		name := rest[1:eq]
		var val strings.Builder
		j := eq + 1
		for ; j < len(rest) && rest[j] != ']'; j++ {
			if rest[j] == '\\' && j+1 < len(rest) {
				j++
			}
			val.WriteByte(rest[j])
		}
		if j == len(rest) {
			return nil, fmt.Errorf("unterminated key %q", name)
		}
		e.Key[name] = val.String()
		rest = rest[j+1:]
	}
	return e, nil
}

// resolved is a request path checked against the schema.
type resolved struct {
	// elems are normalized: bare names, every list key present (glob where
	// the request left it out).
	elems []*gpb.PathElem
	node  *schemaNode
	// wild is true when some key or element is a glob.
	wild bool
}

// resolve checks elems against the schema. Unknown nodes are NotFound,
// malformed keys are InvalidArgument; both errors name the path. Missing
// list keys become globs when wildcards is true and are an error otherwise.
func resolve(root *schemaNode, elems []*gpb.PathElem, wildcards bool) (resolved, error) {
	r := resolved{node: root, elems: make([]*gpb.PathElem, 0, len(elems))}
	for i, e := range elems {
		name := e.GetName()
		if name == glob || name == "..." {
			return r, fmt.Errorf("path %s: wildcard element %q is not supported; use key wildcards [k=*]: %w", FormatPath(elems), name, errInvalid)
		}
		c := r.node.child(name)
		if c == nil {
			return r, fmt.Errorf("path %s: no node %q under %s: %w", FormatPath(elems), name, FormatPath(elems[:i]), errNotFound)
		}
		ne := &gpb.PathElem{Name: c.name}
		if c.kind != kindList && len(e.GetKey()) > 0 {
			return r, fmt.Errorf("path %s: %q is not a list and takes no keys: %w", FormatPath(elems), c.name, errInvalid)
		}
		if c.kind == kindList {
			ne.Key = make(map[string]string, len(c.keys))
			for k := range e.GetKey() {
				if !slices.Contains(c.keys, k) {
					return r, fmt.Errorf("path %s: list %q has no key %q (keys: %s): %w", FormatPath(elems), c.name, k, strings.Join(c.keys, ", "), errInvalid)
				}
			}
			for _, k := range c.keys {
				v, ok := e.GetKey()[k]
				switch {
				case !ok || v == glob:
					if !wildcards {
						return r, fmt.Errorf("path %s: list %q needs key %q: %w", FormatPath(elems), c.name, k, errInvalid)
					}
					v = glob
					r.wild = true
				default:
					if _, err := parseKey(c.children[k].typ, v); err != nil {
						return r, fmt.Errorf("path %s: key %s=%q: %w: %w", FormatPath(elems), k, v, err, errInvalid)
					}
				}
				ne.Key[k] = v
			}
		}
		r.elems = append(r.elems, ne)
		r.node = c
	}
	return r, nil
}

// cachePath converts normalized elems into the index strings of the cache
// and match trees (openconfig/gnmi/path.ToStrings order: name, then key
// values sorted by key name).
func cachePath(elems []*gpb.PathElem) []string {
	out := make([]string, 0, 2*len(elems))
	for _, e := range elems {
		out = append(out, e.GetName())
		switch len(e.GetKey()) {
		case 0:
		case 1:
			for _, v := range e.GetKey() {
				out = append(out, v)
			}
		default:
			keys := make([]string, 0, len(e.GetKey()))
			for k := range e.GetKey() {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				out = append(out, e.GetKey()[k])
			}
		}
	}
	return out
}

// schemaFor returns the schema node of fully known elems (no validation of
// keys); nil if elems leave the schema.
func schemaFor(root *schemaNode, elems []*gpb.PathElem) *schemaNode {
	n := root
	for _, e := range elems {
		if n = n.children[e.GetName()]; n == nil {
			return nil
		}
	}
	return n
}

// elem builds a path element from a name and alternating key names and
// values, for the code that writes known paths (publisher, config rendering).
func elem(name string, kv ...string) *gpb.PathElem {
	e := &gpb.PathElem{Name: name}
	if len(kv) > 0 {
		e.Key = make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			e.Key[kv[i]] = kv[i+1]
		}
	}
	return e
}
