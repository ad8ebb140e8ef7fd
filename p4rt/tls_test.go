package p4rt

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

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// testPKI is a CA with one server and one client certificate, as PEM files.
type testPKI struct {
	caFile, serverCert, serverKey, clientCert, clientKey string
	pool                                                 *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "p4rt test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (certFile, keyFile string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return writePEM(t, dir, name+".pem", "CERTIFICATE", der), writePEM(t, dir, name+".key", "EC PRIVATE KEY", keyDER)
	}
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func writePEM(t *testing.T, dir, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConnectMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	cert, err := tls.LoadX509KeyPair(pki.serverCert, pki.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pki.pool, ClientAuth: tls.RequireAndVerifyClientCert}
	ft := startFakeTarget(t, "", grpc.Creds(credentials.NewTLS(serverTLS)))

	c := connectTest(t, ft.addr, WithElectionID(ElectionID{Low: 1}),
		WithTLS(TLSFiles{CAFile: pki.caFile, CertFile: pki.clientCert, KeyFile: pki.clientKey}))
	if v, err := c.Capabilities(context.Background()); err != nil || v != "1.5.0" || !c.IsPrimary() {
		t.Fatalf("over mutual TLS: version %q, %v, primary %t", v, err, c.IsPrimary())
	}

	failures := []struct {
		desc    string
		files   TLSFiles
		wantErr string
	}{
		// With TLS 1.3 the server rejects the client after the handshake, so
		// the client sees a broken connection rather than a certificate error.
		{desc: "no client certificate", files: TLSFiles{CAFile: pki.caFile}, wantErr: "context deadline exceeded"},
		{desc: "server not trusted", files: TLSFiles{CertFile: pki.clientCert, KeyFile: pki.clientKey}, wantErr: "certificate"},
		{desc: "missing CA file", files: TLSFiles{CAFile: filepath.Join(t.TempDir(), "nope.pem")}, wantErr: "p4rt: TLS CA"},
		{desc: "CA file without PEM", files: TLSFiles{CAFile: pki.clientKey}, wantErr: "no PEM certificate found"},
		{desc: "key without certificate", files: TLSFiles{CAFile: pki.caFile, KeyFile: pki.clientKey}, wantErr: "p4rt: TLS client certificate"},
	}
	for _, tc := range failures {
		t.Run(tc.desc, func(t *testing.T) {
			// Handshake failures are retried like an absent target until ctx
			// ends; the error then carries the last one.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			c, err := Connect(ctx, ft.addr, WithLogger(quietLogger()), WithTLS(tc.files),
				WithReconnectBackoff(Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}))
			if err == nil {
				c.Close()
				t.Fatal("Connect succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
