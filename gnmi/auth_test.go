package gnmi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

func TestAuthorization(t *testing.T) {
	_, addr := startServer(t, Options{})
	setReq := &gpb.SetRequest{Update: []*gpb.Update{{Path: mustPathT("/interfaces/interface[name=eth5]/config/mtu"),
		Val: &gpb.TypedValue{Value: &gpb.TypedValue_UintVal{UintVal: 1500}}}}}
	getReq := &gpb.GetRequest{Path: []*gpb.Path{mustPathT("/interfaces")}, Encoding: gpb.Encoding_JSON_IETF}
	tests := []struct {
		desc           string
		user, password string
		wantGet        codes.Code
		wantSet        codes.Code
	}{
		{desc: "read-write user", user: "admin", password: "admin-secret", wantGet: codes.OK, wantSet: codes.OK},
		{desc: "read-only user cannot Set", user: "viewer", password: "viewer-secret", wantGet: codes.OK, wantSet: codes.PermissionDenied},
		{desc: "wrong password", user: "admin", password: "guess", wantGet: codes.Unauthenticated, wantSet: codes.Unauthenticated},
		{desc: "unknown user", user: "mallory", password: "admin-secret", wantGet: codes.Unauthenticated, wantSet: codes.Unauthenticated},
		{desc: "no credentials", wantGet: codes.Unauthenticated, wantSet: codes.Unauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			c := dial(t, addr, tc.user, tc.password)
			if _, err := c.Get(context.Background(), getReq); status.Code(err) != tc.wantGet {
				t.Errorf("Get = %v, want %v", err, tc.wantGet)
			}
			if _, err := c.Set(context.Background(), setReq); status.Code(err) != tc.wantSet {
				t.Errorf("Set = %v, want %v", err, tc.wantSet)
			}
			stream, err := c.Subscribe(context.Background())
			if err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			_ = stream.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: &gpb.SubscriptionList{
				Mode: gpb.SubscriptionList_ONCE, Subscription: []*gpb.Subscription{sub("/interfaces", 0)}}}})
			var err2 error
			for err2 == nil {
				_, err2 = stream.Recv()
			}
			switch {
			case tc.wantGet == codes.OK && err2.Error() != "EOF":
				t.Errorf("Subscribe ONCE ended with %v, want EOF", err2)
			case tc.wantGet != codes.OK && status.Code(err2) != tc.wantGet:
				t.Errorf("Subscribe = %v, want %v", err2, tc.wantGet)
			}
		})
	}
}

func TestNewRefusesUnsafeOptions(t *testing.T) {
	tests := []struct {
		desc    string
		opts    Options
		wantErr string
	}{
		{desc: "no TLS and no Plaintext", opts: Options{Device: &testDevice{}, Users: testUsers},
			wantErr: "Options.TLS is required unless Plaintext"},
		{desc: "no users and no NoAuth", opts: Options{Device: &testDevice{}, Plaintext: true},
			wantErr: "Options.Users is required unless NoAuth"},
		{desc: "no device", opts: Options{Plaintext: true, NoAuth: true}, wantErr: "Options.Device is required"},
		{desc: "user without access", opts: Options{Device: &testDevice{}, Plaintext: true, Users: []User{{Name: "x", Password: "y"}}},
			wantErr: `user "x" needs a name and an Access`},
		{desc: "invalid initial config", opts: Options{Device: &testDevice{}, Plaintext: true, NoAuth: true,
			Config: &Config{NetworkInstances: map[string]*NetworkInstance{"x": {Name: "x"}}}},
			wantErr: "network-instance[name=x]/config/type: mandatory leaf is missing"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// testPKI is a CA with a server and client certificates, written as PEM.
type testPKI struct {
	dir                           string
	caFile, serverCert, serverKey string
	pool                          *x509.CertPool
	// client is signed by the CA; stranger by another CA.
	client, stranger tls.Certificate
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// issue signs a leaf certificate and writes cert and key PEM files.
func issue(t *testing.T, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, usage x509.ExtKeyUsage) (string, string, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pair
}

func newTestPKI(t *testing.T) *testPKI {
	dir := t.TempDir()
	ca, caKey := newCA(t, "p4evpn test CA")
	p := &testPKI{dir: dir, caFile: filepath.Join(dir, "ca.crt"), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	if err := os.WriteFile(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	p.serverCert, p.serverKey, _ = issue(t, dir, "server", ca, caKey, x509.ExtKeyUsageServerAuth)
	_, _, p.client = issue(t, dir, "nms", ca, caKey, x509.ExtKeyUsageClientAuth)
	other, otherKey := newCA(t, "someone else's CA")
	_, _, p.stranger = issue(t, dir, "stranger", other, otherKey, x509.ExtKeyUsageClientAuth)
	return p
}

func TestTLSWithClientCertificates(t *testing.T) {
	pki := newTestPKI(t)
	serverTLS, err := ServerTLS(pki.serverCert, pki.serverKey, pki.caFile)
	if err != nil {
		t.Fatalf("ServerTLS: %v", err)
	}
	_, addr := startServer(t, Options{TLS: serverTLS})
	getReq := &gpb.GetRequest{Path: []*gpb.Path{mustPathT("/interfaces")}, Encoding: gpb.Encoding_JSON_IETF}
	tests := []struct {
		desc     string
		certs    []tls.Certificate
		wantCode codes.Code
	}{
		{desc: "client certificate from the CA", certs: []tls.Certificate{pki.client}, wantCode: codes.OK},
		{desc: "no client certificate", wantCode: codes.Unavailable},
		{desc: "client certificate from another CA", certs: []tls.Certificate{pki.stranger}, wantCode: codes.Unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			creds := credentials.NewTLS(&tls.Config{RootCAs: pki.pool, Certificates: tc.certs, MinVersion: tls.VersionTLS12})
			c := dialTLS(t, addr, creds, "viewer", "viewer-secret")
			if _, err := c.Get(context.Background(), getReq); status.Code(err) != tc.wantCode {
				t.Errorf("Get over TLS = %v, want %v", err, tc.wantCode)
			}
		})
	}
	t.Run("plaintext client is refused", func(t *testing.T) {
		if _, err := dial(t, addr, "viewer", "viewer-secret").Get(context.Background(), getReq); status.Code(err) != codes.Unavailable {
			t.Errorf("plaintext Get to a TLS server = %v, want Unavailable", err)
		}
	})
}

func TestServerTLSErrors(t *testing.T) {
	pki := newTestPKI(t)
	tests := []struct {
		desc             string
		cert, key, ca    string
		wantErrSubstring string
	}{
		{desc: "missing cert", cert: filepath.Join(pki.dir, "nope.crt"), key: pki.serverKey, wantErrSubstring: "load server certificate"},
		{desc: "missing CA", cert: pki.serverCert, key: pki.serverKey, ca: filepath.Join(pki.dir, "nope.crt"), wantErrSubstring: "read client CA"},
		{desc: "CA file is not PEM", cert: pki.serverCert, key: pki.serverKey, ca: pki.serverKey, wantErrSubstring: "holds no PEM certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := ServerTLS(tc.cert, tc.key, tc.ca)
			if err == nil || !strings.Contains(err.Error(), tc.wantErrSubstring) {
				t.Errorf("ServerTLS = %v, want %q", err, tc.wantErrSubstring)
			}
		})
	}
}
