package gnmi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openconfig/gnmi/cache"
	"github.com/openconfig/gnmi/ctree"
	"github.com/openconfig/gnmi/match"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/gnmi/subscribe"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

// Device is the PE that the server configures; evpnd implements it over
// evpn/ and bgp/. The server validates every Set against the schema and
// Config.Validate before it calls the device, and records next as the
// running config only when ApplyConfig returns nil.
type Device interface {
	// ApplyConfig makes the device run next instead of prev (prev is empty,
	// never nil, before the first Set). It must apply all of next or, on
	// error, leave prev in effect: the server keeps prev as the running
	// config and reports the error to the client. Calls never overlap.
	// Both configs are shared with the server: read them, never modify.
	ApplyConfig(ctx context.Context, prev, next *Config) error
}

// Access is what a user may do.
type Access int

// Access levels: Get, Subscribe and Capabilities need ReadOnly; Set needs
// ReadWrite.
const (
	ReadOnly Access = iota + 1
	ReadWrite
)

// User is a username/password pair accepted in the "username" and
// "password" request metadata (the keys gnmi_cli and gnmic send).
type User struct {
	Name     string
	Password string
	Access   Access
}

// Options configure a Server.
type Options struct {
	// Target is the gNMI target name; requests may leave it empty. Default
	// "p4evpn".
	Target string
	// Device receives every committed Set. Required.
	Device Device
	// Config is the running config at start, already in effect on Device.
	Config *Config
	// TLS is the server's TLS config (certificate; ClientAuth and ClientCAs
	// for client-certificate verification). See ServerTLS.
	TLS *tls.Config
	// Plaintext allows serving without TLS: for the testbed only, and only
	// when asked for explicitly.
	Plaintext bool
	// Users are the accepted credentials. With none, NoAuth must be set.
	Users []User
	// NoAuth serves every caller read-write without credentials (testbed).
	NoAuth bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock of notification timestamps and of the ages Get
	// reports; default time.Now. Tests inject one to read ages exactly.
	Now func() time.Time
}

// DefaultTarget is the target name when Options.Target is empty.
const DefaultTarget = "p4evpn"

// Server is a gNMI server for one PE: Capabilities, Get, Set and Subscribe
// over the OpenConfig schema in schema_model.go, with state published by
// the device through State.
type Server struct {
	gpb.UnimplementedGNMIServer

	opts   Options
	log    *slog.Logger
	schema *schemaNode
	cache  *cache.Cache
	match  *match.Match
	state  *State
	grpc   *grpc.Server
	// names holds shared keyless path elements (see name); read-only.
	names map[string]*gpb.PathElem

	// lastTS makes cache timestamps strictly increasing: the cache drops
	// an update whose timestamp is not newer than the leaf's.
	lastTS atomic.Int64

	// setMu serializes Set and guards running and runningLeaves.
	setMu         sync.Mutex
	running       *Config
	runningLeaves leafSet

	// ctx is cancelled by Close to end Subscribe streams.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New validates opts and the initial config and builds a Server; call
// Serve to accept connections.
func New(opts Options) (*Server, error) {
	if opts.Device == nil {
		return nil, errors.New("gnmi: Options.Device is required")
	}
	if opts.TLS == nil && !opts.Plaintext {
		return nil, errors.New("gnmi: Options.TLS is required unless Plaintext is set explicitly")
	}
	if len(opts.Users) == 0 && !opts.NoAuth {
		return nil, errors.New("gnmi: Options.Users is required unless NoAuth is set explicitly")
	}
	for _, u := range opts.Users {
		if u.Name == "" || (u.Access != ReadOnly && u.Access != ReadWrite) {
			return nil, fmt.Errorf("gnmi: user %q needs a name and an Access of ReadOnly or ReadWrite", u.Name)
		}
	}
	if opts.Target == "" {
		opts.Target = DefaultTarget
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Config == nil {
		opts.Config = &Config{}
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, fmt.Errorf("gnmi: initial config: %w", err)
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger.With("component", "gnmi"),
		schema:  newSchema(),
		cache:   cache.New(nil),
		match:   match.New(),
		running: opts.Config,
	}
	s.names = schemaNames(s.schema)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.cache.SetClient(func(l *ctree.Leaf) {
		n, ok := l.Value().(*gpb.Notification)
		if !ok {
			return
		}
		// subscribe.UpdateNotification fans a cache change out to every
		// ON_CHANGE query that matches it (match.Match).
		subscribe.UpdateNotification(s.match, l, n, []string{n.GetPrefix().GetTarget()})
	})
	s.cache.Add(opts.Target)
	s.state = &State{srv: s, nextHops: newNextHopTable()}
	s.runningLeaves = configLeaves(opts.Config)
	s.publishConfig(leafSet{}, s.runningLeaves)

	auth := &authenticator{users: map[string]User{}, noAuth: opts.NoAuth}
	for _, u := range opts.Users {
		auth.users[u.Name] = u
	}
	var sopts []grpc.ServerOption
	if opts.TLS != nil {
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(opts.TLS)))
	}
	sopts = append(sopts,
		grpc.ChainUnaryInterceptor(auth.unary),
		grpc.ChainStreamInterceptor(auth.stream),
	)
	s.grpc = grpc.NewServer(sopts...)
	gpb.RegisterGNMIServer(s.grpc, s)
	return s, nil
}

// Serve accepts gNMI connections on lis until Close.
func (s *Server) Serve(lis net.Listener) error {
	s.log.Info("serving gNMI", "address", lis.Addr().String(), "target", s.opts.Target, "tls", s.opts.TLS != nil)
	if err := s.grpc.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("gnmi: serve %s: %w", lis.Addr(), err)
	}
	return nil
}

// Close ends every stream, stops serving and waits for the server's
// goroutines.
func (s *Server) Close() {
	s.cancel()
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.grpc.Stop()
		<-done
	}
	s.wg.Wait()
}

// State returns the publisher through which the device feeds telemetry.
func (s *Server) State() *State { return s.state }

// Running returns the running config. The caller must not modify it.
func (s *Server) Running() *Config {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	return s.running
}

// Target returns the gNMI target name.
func (s *Server) Target() string { return s.opts.Target }

// timestamp returns a nanosecond timestamp newer than every earlier one.
func (s *Server) timestamp() int64 {
	for {
		now := s.opts.Now().UnixNano()
		last := s.lastTS.Load()
		if now <= last {
			now = last + 1
		}
		if s.lastTS.CompareAndSwap(last, now) {
			return now
		}
	}
}

// publish writes one notification into the cache. Notifications built here
// are well-formed, so an error is a bug, logged rather than lost.
//
// It hands the cache one notification per leaf sharing one prefix: the
// cache would otherwise clone the prefix for every leaf it splits off.
func (s *Server) publish(n *gpb.Notification) {
	prefix := &gpb.Path{Target: s.opts.Target}
	leaf := func(one *gpb.Notification) {
		if err := s.cache.GnmiUpdate(one); err != nil && !errors.Is(err, cache.ErrStale) {
			s.log.Error("cache update failed", "err", err)
		}
	}
	for _, u := range n.GetUpdate() {
		leaf(&gpb.Notification{Timestamp: n.GetTimestamp(), Prefix: prefix, Update: []*gpb.Update{u}})
	}
	for _, d := range n.GetDelete() {
		leaf(&gpb.Notification{Timestamp: n.GetTimestamp(), Prefix: prefix, Delete: []*gpb.Path{d}})
	}
}

// name returns the shared, immutable path element for a keyless schema
// node name, so millions of published leaves do not each carry their own
// "state" element; names outside the schema get a fresh element.
func (s *Server) name(n string) *gpb.PathElem {
	if e, ok := s.names[n]; ok {
		return e
	}
	return &gpb.PathElem{Name: n}
}

// names lists one element per schema node name; read-only after New.
func schemaNames(root *schemaNode) map[string]*gpb.PathElem {
	out := map[string]*gpb.PathElem{}
	var walk func(*schemaNode)
	walk = func(n *schemaNode) {
		if n.name != "" {
			out[n.name] = &gpb.PathElem{Name: n.name}
		}
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(root)
	return out
}

// publishConfig publishes the difference between two config leaf sets, each
// leaf at …/config/… and at its …/state/… mirror.
func (s *Server) publishConfig(prev, next leafSet) {
	n := &gpb.Notification{Timestamp: s.timestamp()}
	for k, l := range next {
		if old, ok := prev[k]; ok && proto.Equal(old.val, l.val) {
			continue
		}
		n.Update = append(n.Update,
			&gpb.Update{Path: &gpb.Path{Elem: l.elems}, Val: l.val},
			&gpb.Update{Path: &gpb.Path{Elem: stateMirror(l.elems)}, Val: l.val})
	}
	for k, l := range prev {
		if _, ok := next[k]; !ok {
			n.Delete = append(n.Delete, &gpb.Path{Elem: l.elems}, &gpb.Path{Elem: stateMirror(l.elems)})
		}
	}
	if len(n.Update)+len(n.Delete) > 0 {
		s.publish(n)
	}
}

// Models lists the schema modules the server serves, for Capabilities.
var models = []*gpb.ModelData{
	{Name: "openconfig-interfaces", Organization: ocOrganization, Version: "3.8.1"},
	{Name: "openconfig-vlan", Organization: ocOrganization, Version: "3.2.2"},
	{Name: "openconfig-network-instance", Organization: ocOrganization, Version: "4.7.0"},
	{Name: "openconfig-network-instance-types", Organization: ocOrganization, Version: "0.9.3"},
	{Name: "openconfig-evpn", Organization: ocOrganization, Version: "0.11.0"},
	{Name: "openconfig-evpn-types", Organization: ocOrganization, Version: "0.2.0"},
	{Name: "openconfig-ethernet-segments", Organization: ocOrganization, Version: "0.2.0"},
	{Name: "openconfig-bgp", Organization: ocOrganization, Version: "9.9.1"},
	{Name: "openconfig-bgp-types", Organization: ocOrganization, Version: "6.2.0"},
	{Name: "openconfig-policy-types", Organization: ocOrganization, Version: "3.3.0"},
	{Name: modESDesignatedFwder, Organization: "p4evpn", Version: "0.1.0"},
}

const ocOrganization = "OpenConfig working group"

// Capabilities implements gNMI Capabilities (gNMI spec §3.2).
func (s *Server) Capabilities(ctx context.Context, _ *gpb.CapabilityRequest) (*gpb.CapabilityResponse, error) {
	version, _ := proto.GetExtension(gpb.File_github_com_openconfig_gnmi_proto_gnmi_gnmi_proto.Options(), gpb.E_GnmiService).(string)
	return &gpb.CapabilityResponse{
		SupportedModels:    models,
		SupportedEncodings: []gpb.Encoding{gpb.Encoding_JSON, gpb.Encoding_JSON_IETF},
		GNMIVersion:        version,
	}, nil
}
