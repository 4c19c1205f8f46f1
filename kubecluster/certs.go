package kubecluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the control plane's certificates: a CA, the API server's serving certificate for
// 127.0.0.1, an admin client certificate (group system:masters), the service-account key
// pair, and the aggregation layer's front-proxy CA with the client certificate the API server
// presents to the API groups it proxies, written as PEM files into one directory.
type pki struct {
	dir string
	ca  *x509.Certificate
	key *ecdsa.PrivateKey
}

// PEM file names in the PKI directory.
const (
	caCertFile     = "ca.crt"
	serverCertFile = "apiserver.crt"
	serverKeyFile  = "apiserver.key"
	adminCertFile  = "admin.crt"
	adminKeyFile   = "admin.key"
	saKeyFile      = "sa.key"
	saPubFile      = "sa.pub"

	frontProxyCAFile       = "front-proxy-ca.crt"
	frontProxyClientCert   = "front-proxy-client.crt"
	frontProxyClientKey    = "front-proxy-client.key"
	frontProxyClientCommon = "front-proxy-client"
)

// newPKI creates the CA and every certificate in dir.
func newPKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p, err := newCA(dir, caCertFile, "ddp-verify local cluster CA")
	if err != nil {
		return nil, err
	}
	if err := p.issue(serverCertFile, serverKeyFile, pkix.Name{CommonName: "kube-apiserver"}, x509.ExtKeyUsageServerAuth,
		[]net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)}, []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}); err != nil {
		return nil, err
	}
	if err := p.issue(adminCertFile, adminKeyFile, pkix.Name{CommonName: "ddp-verify-admin", Organization: []string{"system:masters"}}, x509.ExtKeyUsageClientAuth, nil, nil); err != nil {
		return nil, err
	}
	if err := p.serviceAccountKeys(); err != nil {
		return nil, err
	}
	// A CA of its own, as kubeadm makes it: the servers behind the aggregation layer trust
	// only the API server's proxy with it, never a client of the cluster CA.
	front, err := newCA(dir, frontProxyCAFile, "ddp-verify front-proxy CA")
	if err != nil {
		return nil, err
	}
	return p, front.issue(frontProxyClientCert, frontProxyClientKey, pkix.Name{CommonName: frontProxyClientCommon}, x509.ExtKeyUsageClientAuth, nil, nil)
}

// newCA creates a self-signed CA in dir, its certificate written to certFile.
func newCA(dir, certFile, name string) (*pki, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	p := &pki{dir: dir, ca: ca, key: key}
	return p, writePEM(p.path(certFile), "CERTIFICATE", der)
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

// under is the CA's issuer for the certificates of one component: it writes them into the
// directory name below the PKI directory, created if missing.
func (p *pki) under(name string) (*pki, error) {
	dir := p.path(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &pki{dir: dir, ca: p.ca, key: p.key}, nil
}

// issue writes a certificate signed by the CA and its key.
func (p *pki) issue(certFile, keyFile string, subject pkix.Name, usage x509.ExtKeyUsage, ips []net.IP, names []string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: subject, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, DNSNames: names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		return fmt.Errorf("issue %s: %w", certFile, err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(p.path(certFile), "CERTIFICATE", der); err != nil {
		return err
	}
	return writePEM(p.path(keyFile), "EC PRIVATE KEY", kder)
}

// serviceAccountKeys writes the key pair the API server signs and checks service-account
// tokens with, which the controller manager's token controller uses too.
func (p *pki) serviceAccountKeys() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := writePEM(p.path(saKeyFile), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)); err != nil {
		return err
	}
	return writePEM(p.path(saPubFile), "PUBLIC KEY", pub)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
