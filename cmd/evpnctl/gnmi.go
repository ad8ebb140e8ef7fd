package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/p4evpn/p4evpn/gnmi"
)

// gnmiOptions say how to reach evpnd's gNMI server (config gnmi: listen,
// plaintext, cert/key, client-ca, users).
type gnmiOptions struct {
	addr                      string
	plaintext, insecure       bool
	ca, cert, key, serverName string
	username, password        string
}

// check refuses flag combinations that would silently do something else
// than asked.
func (o gnmiOptions) check() error {
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return fmt.Errorf("--gnmi %q: want HOST:PORT: %w", o.addr, err)
	}
	if o.plaintext {
		for _, f := range []struct {
			name string
			set  bool
		}{{"--ca", o.ca != ""}, {"--cert", o.cert != ""}, {"--key", o.key != ""}, {"--server-name", o.serverName != ""}, {"--insecure", o.insecure}} {
			if f.set {
				return fmt.Errorf("--plaintext and %s: %s configures TLS, which --plaintext turns off", f.name, f.name)
			}
		}
	}
	if o.insecure && o.ca != "" {
		return fmt.Errorf("--insecure and --ca %q: --insecure verifies no certificate, so the CA would be unused", o.ca)
	}
	if (o.cert == "") != (o.key == "") {
		return fmt.Errorf("--cert %q and --key %q: a client certificate needs both", o.cert, o.key)
	}
	if o.password != "" && o.username == "" {
		return errors.New("--password without --username")
	}
	if o.username != "" && o.password == "" {
		return fmt.Errorf("--username %q without a password (--password or $EVPNCTL_PASSWORD)", o.username)
	}
	return nil
}

// transport builds the gRPC transport credentials.
func (o gnmiOptions) transport() (credentials.TransportCredentials, error) {
	if o.plaintext {
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.serverName, InsecureSkipVerify: o.insecure}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s holds no PEM certificate", o.ca)
		}
		cfg.RootCAs = pool
	}
	if o.cert != "" {
		c, err := tls.LoadX509KeyPair(o.cert, o.key)
		if err != nil {
			return nil, fmt.Errorf("--cert %s / --key %s: %w", o.cert, o.key, err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return credentials.NewTLS(cfg), nil
}

// maxAnswer bounds a Get answer. One Get carries a whole MAC table: about
// 700 bytes a MAC (FIB and L2RIB entries, JSON), so gRPC's default 4 MiB
// would stop near 6,000 MACs; 512 MiB is gnmic's default too.
const maxAnswer = 512 << 20

// gnmiReader reads OpenConfig state from one evpnd over gNMI Get.
type gnmiReader struct {
	opts   gnmiOptions
	conn   *grpc.ClientConn
	client gpb.GNMIClient
}

// dialGNMI prepares a connection to evpnd; gRPC connects on the first RPC,
// so an unreachable evpnd is reported by that RPC.
func dialGNMI(o gnmiOptions) (*gnmiReader, error) {
	creds, err := o.transport()
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(o.addr, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxAnswer)))
	if err != nil {
		return nil, fmt.Errorf("--gnmi %s: %w", o.addr, err)
	}
	return &gnmiReader{opts: o, conn: conn, client: gpb.NewGNMIClient(conn)}, nil
}

// Close closes the connection.
func (r *gnmiReader) Close() error { return r.conn.Close() }

// update is one answer of a Get: the path of a subtree and its JSON value,
// module prefixes of member names removed (see normalizeJSON).
type update struct {
	elems []*gpb.PathElem
	json  []byte
}

// get issues one gNMI Get of paths (state and config alike, JSON_IETF) and
// returns every update, with its notification's prefix joined in.
func (r *gnmiReader) get(ctx context.Context, paths ...*gpb.Path) ([]update, error) {
	if r.opts.username != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "username", r.opts.username, "password", r.opts.password)
	}
	resp, err := r.client.Get(ctx, &gpb.GetRequest{Path: paths, Type: gpb.GetRequest_ALL, Encoding: gpb.Encoding_JSON_IETF})
	if err != nil {
		return nil, r.rpcError(err, paths)
	}
	var out []update
	for _, n := range resp.GetNotification() {
		for _, u := range n.GetUpdate() {
			elems := append(slices.Clone(n.GetPrefix().GetElem()), u.GetPath().GetElem()...)
			raw := u.GetVal().GetJsonIetfVal()
			if raw == nil {
				raw = u.GetVal().GetJsonVal()
			}
			if raw == nil {
				return nil, fmt.Errorf("evpnd at %s answered %s with a %T, not JSON", r.opts.addr, gnmi.FormatPath(elems), u.GetVal().GetValue())
			}
			b, err := normalizeJSON(raw)
			if err != nil {
				return nil, fmt.Errorf("evpnd at %s answered %s with bad JSON: %w", r.opts.addr, gnmi.FormatPath(elems), err)
			}
			out = append(out, update{elems: elems, json: b})
		}
	}
	return out, nil
}

// rpcError explains a failed Get to an operator: which evpnd, which paths,
// and the likely fix.
func (r *gnmiReader) rpcError(err error, paths []*gpb.Path) error {
	addr := r.opts.addr
	st, _ := status.FromError(err)
	msg := st.Message()
	switch st.Code() {
	case codes.Unavailable:
		hint := "is evpnd running with gnmi.listen " + addr + "?"
		switch {
		case strings.Contains(msg, "first record does not look like a TLS handshake"):
			hint = "it serves plaintext (gnmi.plaintext: true): add --plaintext"
		case strings.Contains(msg, "certificate"):
			hint = "its certificate was not accepted: --ca names the CA that signed it, --server-name a name it holds"
		case r.opts.plaintext && !strings.Contains(msg, "connection refused"):
			hint = "it may serve TLS: drop --plaintext"
		}
		return fmt.Errorf("evpnd's gNMI server at %s is unreachable (%s): %w", addr, hint, err)
	case codes.Unauthenticated:
		return fmt.Errorf("evpnd at %s refused the credentials (--username, and --password or $EVPNCTL_PASSWORD, from its gnmi.users): %w", addr, err)
	case codes.PermissionDenied:
		return fmt.Errorf("evpnd at %s denies user %q: %w", addr, r.opts.username, err)
	case codes.NotFound, codes.InvalidArgument, codes.Unimplemented:
		return fmt.Errorf("evpnd at %s does not serve %s: %w", addr, formatPaths(paths), err)
	case codes.ResourceExhausted:
		return fmt.Errorf("evpnd at %s: the answer to Get %s is larger than evpnctl takes (%d MiB): %w", addr, formatPaths(paths), maxAnswer>>20, err)
	case codes.DeadlineExceeded:
		return fmt.Errorf("evpnd at %s did not answer within --timeout: %w", addr, err)
	}
	return fmt.Errorf("gNMI Get %s from evpnd at %s: %w", formatPaths(paths), addr, err)
}

// normalizeJSON removes the module prefixes RFC 7951 puts on member names
// (where a child's module differs from its parent's, e.g. an augment) so
// that JSON_IETF and plain JSON decode into the same structs. Values are
// left alone: identities are stripped by the ident type, where a colon is
// known to be a prefix and not part of an address.
func normalizeJSON(b []byte) ([]byte, error) {
	if !hasPrefixedMember(b) {
		return b, nil // the common case, and half the cost of a MAC table
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(stripModules(v))
}

// hasPrefixedMember reports whether an object member name of the JSON
// text b holds a colon. Outside strings a quote always opens one, so a
// string followed by a colon is a member name.
func hasPrefixedMember(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		colon := false
		j := i + 1
		for ; j < len(b) && b[j] != '"'; j++ {
			switch b[j] {
			case '\\':
				j++
			case ':':
				colon = true
			}
		}
		k := j + 1
		for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\n' || b[k] == '\r') {
			k++
		}
		if colon && k < len(b) && b[k] == ':' {
			return true
		}
		i = j
	}
	return false
}

func stripModules(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if i := strings.LastIndexByte(k, ':'); i >= 0 {
				k = k[i+1:]
			}
			out[k] = stripModules(e)
		}
		return out
	case []any:
		for i := range x {
			x[i] = stripModules(x[i])
		}
		return x
	}
	return v
}

// ocUint is an OpenConfig integer: a JSON number, or a string for the
// 64-bit types in JSON_IETF (RFC 7951 §6.1).
type ocUint uint64

// UnmarshalJSON implements json.Unmarshaler.
func (u *ocUint) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("integer %s: %w", b, err)
	}
	*u = ocUint(n)
	return nil
}

// ident is an identity or enumeration value; JSON_IETF qualifies
// identities with their module ("openconfig-evpn-types:ALL_ACTIVE").
type ident string

// UnmarshalJSON implements json.Unmarshaler.
func (id *ident) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("identity %s: %w", b, err)
	}
	if i := strings.IndexByte(s, ':'); i > 0 {
		s = s[i+1:]
	}
	*id = ident(s)
	return nil
}

// elem builds a path element; kv alternates key names and values.
func elem(name string, kv ...string) *gpb.PathElem {
	e := &gpb.PathElem{Name: name}
	if len(kv) > 0 {
		e.Key = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			e.Key[kv[i]] = kv[i+1]
		}
	}
	return e
}

// names builds keyless path elements.
func names(ns ...string) []*gpb.PathElem {
	out := make([]*gpb.PathElem, len(ns))
	for i, n := range ns {
		out[i] = elem(n)
	}
	return out
}

// path joins element groups into a path.
func path(groups ...[]*gpb.PathElem) *gpb.Path {
	var p gpb.Path
	for _, g := range groups {
		p.Elem = append(p.Elem, g...)
	}
	return &p
}

// one wraps one element for path.
func one(e *gpb.PathElem) []*gpb.PathElem { return []*gpb.PathElem{e} }

func formatPaths(ps []*gpb.Path) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = gnmi.FormatPath(p.GetElem())
	}
	return strings.Join(s, ", ")
}

// namesOf is the element names of elems, for matching an update's shape.
func namesOf(elems []*gpb.PathElem) string {
	s := make([]string, len(elems))
	for i, e := range elems {
		s[i] = e.GetName()
	}
	return strings.Join(s, "/")
}
