package jetstream_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/jetstream"
	"github.com/pullkit/broker/jetstream/jstest"
)

// selfSigned makes a certificate for 127.0.0.1 signed by itself, and a
// pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "jetstream-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestTLSWithASelfSignedCertificate(t *testing.T) {
	cert, pool := selfSigned(t)
	srv := startServer(t, jstest.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	ctx := testCtx(t)

	c, err := jetstream.Connect(ctx, jetstream.Config{URLs: []string{srv.URL()}, TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatalf("Connect with the certificate trusted: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if !c.Conn().TLSRequired() {
		t.Error("the connection does not use TLS")
	}
	subject, stream := uniqueSubject("tls")
	createStream(t, c, stream, subject)
	q, err := c.Subscribe(ctx, jetstream.QueueConfig{Subject: subject, Consumer: "c"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	tp, err := c.Publisher(jetstream.PublisherConfig{}).Topic(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Publish(ctx, broker.OutboundMessage{Data: []byte("over tls")}); err != nil {
		t.Fatal(err)
	}
	m, err := q.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != "over tls" {
		t.Errorf("got %q", m.Data)
	}
	if err := m.AckContext(ctx); err != nil {
		t.Fatal(err)
	}

	// Without trusting the certificate the handshake fails.
	_, err = jetstream.Connect(ctx, jetstream.Config{URLs: []string{srv.URL()}, TLS: &tls.Config{MinVersion: tls.VersionTLS12}, MaxReconnects: new(0)})
	if err == nil {
		t.Fatal("Connect without trusting the self-signed certificate succeeded")
	}
	if !errors.Is(err, broker.ErrUnavailable) {
		t.Errorf("untrusted certificate: got %v, want an error matching broker.ErrUnavailable", err)
	}
}

func TestWrongCredentialsFailClearlyWithoutTheSecret(t *testing.T) {
	const user, password, token = "app", "s3cret-password", "s3cret-token"
	userSrv := startServer(t, jstest.Options{User: user, Password: password})
	tokenSrv := startServer(t, jstest.Options{Token: token})

	good := func(url string, cfg jetstream.Config) {
		t.Helper()
		cfg.URLs = []string{url}
		c, err := jetstream.Connect(testCtx(t), cfg)
		if err != nil {
			t.Fatalf("Connect with the right credentials: %v", err)
		}
		_ = c.Close()
	}
	good(userSrv.URL(), jetstream.Config{User: user, Password: password})
	good(tokenSrv.URL(), jetstream.Config{Token: token})

	for name, tc := range map[string]struct {
		url    string
		cfg    jetstream.Config
		secret string
	}{
		"wrong password": {userSrv.URL(), jetstream.Config{User: user, Password: "wrong-" + password}, "wrong-" + password},
		"no credentials": {userSrv.URL(), jetstream.Config{}, ""},
		"wrong token":    {tokenSrv.URL(), jetstream.Config{Token: "wrong-" + token}, "wrong-" + token},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.URLs = []string{tc.url}
			c, err := jetstream.Connect(testCtx(t), cfg)
			if err == nil {
				_ = c.Close()
				t.Fatal("Connect succeeded")
			}
			if !errors.Is(err, broker.ErrUnauthenticated) {
				t.Errorf("got %v, want an error matching broker.ErrUnauthenticated", err)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("the error %q contains the secret", err)
			}
			if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), token) {
				t.Errorf("the error %q contains a secret", err)
			}
		})
	}
}

func TestConnectRefusesConflictingOrMissingOptions(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]jetstream.Config{
		"no URLs":           {},
		"token and user":    {URLs: []string{shared.URL()}, Token: "t", User: "u", Password: "p"},
		"missing seed file": {URLs: []string{shared.URL()}, NKeySeedFile: "/nonexistent/seed.nk"},
	} {
		if _, err := jetstream.Connect(ctx, cfg); !errors.Is(err, broker.ErrInvalidOption) {
			t.Errorf("%s: got %v, want an error matching broker.ErrInvalidOption", name, err)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := jetstream.Connect(canceled, jetstream.Config{URLs: []string{shared.URL()}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Connect with a canceled context: got %v", err)
	}
}

func TestNKeyAuthentication(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := user.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := user.Seed()
	if err != nil {
		t.Fatal(err)
	}
	other, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	otherSeed, err := other.Seed()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeSeed := func(name string, seed []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, seed, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srv := startServer(t, jstest.Options{NKeys: []string{pub}})

	c, err := jetstream.Connect(testCtx(t), jetstream.Config{URLs: []string{srv.URL()}, NKeySeedFile: writeSeed("user.nk", seed)})
	if err != nil {
		t.Fatalf("Connect with the registered nkey: %v", err)
	}
	_ = c.Close()

	_, err = jetstream.Connect(testCtx(t), jetstream.Config{URLs: []string{srv.URL()}, NKeySeedFile: writeSeed("other.nk", otherSeed)})
	if !errors.Is(err, broker.ErrUnauthenticated) {
		t.Errorf("Connect with an unknown nkey: got %v, want an error matching broker.ErrUnauthenticated", err)
	}
	if err != nil && strings.Contains(err.Error(), string(otherSeed)) {
		t.Errorf("the error %q contains the seed", err)
	}
}

// Connect waits for a server that accepted the connection but never
// answers at most ConnectTimeout; canceling its context must end it
// sooner, not only a deadline.
func TestConnectEndsWhenItsContextIsCanceled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- conn // held open, silent
		}
	}()
	defer func() {
		_ = ln.Close()
		for conn := range accepted {
			_ = conn.Close()
		}
	}()
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		c, err := jetstream.Connect(ctx, jetstream.Config{URLs: []string{"nats://" + ln.Addr().String()}, ConnectTimeout: time.Minute})
		if err == nil {
			_ = c.Close()
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Connect: got %v, want an error matching context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Connect still waiting 20 s after its context was canceled")
	}
}
