package gnmi

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// authenticator checks the username and password metadata of every RPC and
// enforces ReadWrite for Set.
type authenticator struct {
	users  map[string]User
	noAuth bool
}

func (a *authenticator) check(ctx context.Context) (Access, error) {
	if a.noAuth {
		return ReadWrite, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	names, passwords := md.Get("username"), md.Get("password")
	if len(names) != 1 || len(passwords) != 1 {
		return 0, fmt.Errorf("username and password metadata are required: %w", errUnauthorized)
	}
	u, ok := a.users[names[0]]
	// Compare even for an unknown user so timing does not reveal names.
	want := u.Password
	if !ok {
		want = "\x00unknown"
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(passwords[0])) != 1 || !ok {
		return 0, fmt.Errorf("bad username or password for %q: %w", names[0], errUnauthorized)
	}
	return u.Access, nil
}

func (a *authenticator) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	acc, err := a.check(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	if info.FullMethod == gpb.GNMI_Set_FullMethodName && acc != ReadWrite {
		return nil, toStatus(fmt.Errorf("Set needs a read-write user: %w", errPermission))
	}
	return handler(ctx, req)
}

// stream admits any authenticated user: the only streaming RPC,
// Subscribe, reads.
func (a *authenticator) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if _, err := a.check(ss.Context()); err != nil {
		return toStatus(err)
	}
	return handler(srv, ss)
}

// ServerTLS loads a server certificate and key (PEM files). With a
// clientCAFile, clients must present a certificate signed by one of its CAs;
// with "", client certificates are not requested.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("gnmi: load server certificate %s / %s: %w", certFile, keyFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("gnmi: read client CA %s: %w", clientCAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("gnmi: client CA %s holds no PEM certificate", clientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
