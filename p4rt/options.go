package p4rt

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
)

// Option configures Connect.
type Option func(*config) error

type config struct {
	deviceID      uint64
	role          string
	electionID    *ElectionID
	tlsFiles      *TLSFiles
	tlsConfig     *tls.Config
	dialOptions   []grpc.DialOption
	logger        *slog.Logger
	batchSize     int
	writeInflight int
	writeRetry    Backoff
	reconnect     Backoff
	streamBuffer  int
	maxMsgSize    int
}

// Backoff is an exponential backoff: Initial, doubling up to Max. Attempts
// bounds the tries where a bound applies (Write retries); 0 means the
// default.
type Backoff struct {
	Initial, Max time.Duration
	Attempts     int
}

func (b Backoff) next(d time.Duration) time.Duration { return min(2*d, b.Max) }

// Defaults: batches of 1000 updates keep a Write well under gRPC's default
// 4 MiB message limit for typical entries while amortizing the round trip;
// reads of large tables arrive in messages up to 64 MiB.
const (
	DefaultBatchSize    = 1000
	DefaultStreamBuffer = 1024
	defaultMaxMsgSize   = 64 << 20
)

func defaultConfig() config {
	return config{
		deviceID:      1,
		logger:        slog.Default(),
		batchSize:     DefaultBatchSize,
		writeInflight: 1,
		writeRetry:    Backoff{Initial: 20 * time.Millisecond, Max: time.Second, Attempts: 5},
		reconnect:     Backoff{Initial: 50 * time.Millisecond, Max: 5 * time.Second},
		streamBuffer:  DefaultStreamBuffer,
		maxMsgSize:    defaultMaxMsgSize,
	}
}

func (cfg *config) electionIDString() string {
	if cfg.electionID == nil {
		return "unset"
	}
	return cfg.electionID.String()
}

// WithDeviceID sets the P4Runtime device id (default 1; the spec reserves
// 0, though BMv2 accepts it).
func WithDeviceID(id uint64) Option {
	return func(c *config) error { c.deviceID = id; return nil }
}

// WithRole sets the controller role; empty (the default) is the default
// role with full pipeline access.
func WithRole(name string) Option {
	return func(c *config) error { c.role = name; return nil }
}

// WithElectionID sets the election id. Without it the client arbitrates
// with an unset id, which the spec ranks below every id: it is never
// primary and cannot write. See ElectionID for where ids should come from.
func WithElectionID(id ElectionID) Option {
	return func(c *config) error { c.electionID = &id; return nil }
}

// WithElectionIDFile takes the election id from NextElectionID(path,
// floor) when Connect runs.
func WithElectionIDFile(path string, floor ElectionID) Option {
	return func(c *config) error {
		id, err := NextElectionID(path, floor)
		if err != nil {
			return fmt.Errorf("p4rt: %w", err)
		}
		c.electionID = &id
		return nil
	}
}

// WithTLS connects with TLS using PEM files.
func WithTLS(files TLSFiles) Option {
	return func(c *config) error { c.tlsFiles = &files; return nil }
}

// WithTLSConfig connects with TLS using cfg, which the client does not
// modify.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) error { c.tlsConfig = cfg; return nil }
}

// WithDialOptions adds gRPC dial options (interceptors, keepalive, ...).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *config) error { c.dialOptions = append(c.dialOptions, opts...); return nil }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.logger = l; return nil }
}

// WithBatchSize sets how many updates Write sends per WriteRequest by
// default (1000).
func WithBatchSize(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("p4rt: batch size %d, want >= 1", n)
		}
		c.batchSize = n
		return nil
	}
}

// WithWriteConcurrency lets up to n WriteRequests of one dependency step be
// in flight at once (default 1: one at a time). More overlaps the client's
// encoding, the network and the target's decoding, which pays for small
// batches; updates within a step must then not depend on each other's
// order (see Write).
func WithWriteConcurrency(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("p4rt: write concurrency %d, want >= 1", n)
		}
		c.writeInflight = n
		return nil
	}
}

// WithWriteRetry sets the backoff of Write retries when the target answers
// UNAVAILABLE (default 20ms doubling to 1s, 5 attempts).
func WithWriteRetry(b Backoff) Option {
	return func(c *config) error {
		if b.Initial <= 0 || b.Max < b.Initial || b.Attempts < 1 {
			return fmt.Errorf("p4rt: write retry %+v: want 0 < Initial <= Max and Attempts >= 1", b)
		}
		c.writeRetry = b
		return nil
	}
}

// WithReconnectBackoff sets the backoff between stream channel reconnection
// attempts (default 50ms doubling to 5s, without limit of attempts).
func WithReconnectBackoff(b Backoff) Option {
	return func(c *config) error {
		if b.Initial <= 0 || b.Max < b.Initial {
			return fmt.Errorf("p4rt: reconnect backoff %+v: want 0 < Initial <= Max", b)
		}
		c.reconnect = b
		return nil
	}
}

// WithStreamBuffer sets how many packet-ins, digest lists and idle timeout
// notifications may wait for the reader before new ones are dropped
// (default 1024 each).
func WithStreamBuffer(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("p4rt: stream buffer %d, want >= 0", n)
		}
		c.streamBuffer = n
		return nil
	}
}

// WithMaxMessageSize sets the largest gRPC message the client sends or
// receives (default 64 MiB).
func WithMaxMessageSize(n int) Option {
	return func(c *config) error {
		if n < 1<<20 {
			return fmt.Errorf("p4rt: max message size %d, want >= 1 MiB", n)
		}
		c.maxMsgSize = n
		return nil
	}
}
