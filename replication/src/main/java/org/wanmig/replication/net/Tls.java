package org.wanmig.replication.net;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * TLS 1.3 with mutual certificate authentication, from PEM files (certificate chain, PKCS#8 key,
 * CA bundle) or from keystores (PKCS12/JKS). Only JDK classes; no hand-rolled crypto.
 */
public final class Tls {
    public static final String PROTOCOL = "TLSv1.3";
    /** TLS 1.3 suites, AES-128-GCM first: as strong as needed here and cheaper per byte than AES-256. */
    static final String[] SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"};
    private static final Pattern PEM_KEY = Pattern.compile(
            "-----BEGIN ([A-Z ]*)PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END \\1PRIVATE KEY-----");

    private Tls() {
    }

    /** A bad TLS file or setting; the message names what is wrong (the caller adds the key). */
    public static final class TlsConfigException extends Exception {
        public TlsConfigException(String msg, Throwable cause) {
            super(msg, cause);
        }
    }

    private final static char[] NO_PASSWORD = new char[0];

    /** From PEM: this side's certificate chain and private key, and the CA(s) that sign the peers. */
    public static SSLContext fromPem(Path certChain, Path privateKey, Path caBundle) throws TlsConfigException {
        List<X509Certificate> chain = readCerts(certChain, "certificate");
        PrivateKey key = readKey(privateKey);
        List<X509Certificate> cas = readCerts(caBundle, "CA");
        checkPair(key, chain.get(0), privateKey, certChain);
        try {
            char[] pw = randomPassword();
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("self", key, pw, chain.toArray(new Certificate[0]));
            return context(ks, pw, trustStore(cas));
        } catch (GeneralSecurityException | IOException e) {
            throw new TlsConfigException("key does not match certificate or is unusable: " + e.getMessage(), e);
        }
    }

    /** From keystores (type from the extension: .jks is JKS, anything else PKCS12). */
    public static SSLContext fromKeystores(Path keystore, char[] keystorePassword, Path truststore,
                                           char[] truststorePassword) throws TlsConfigException {
        KeyStore ks = load(keystore, keystorePassword);
        KeyStore ts = load(truststore, truststorePassword);
        return context(ks, keystorePassword, ts);
    }

    /** The key must belong to the (first) certificate; otherwise every handshake would fail later. */
    private static void checkPair(PrivateKey key, X509Certificate cert, Path keyFile, Path certFile)
            throws TlsConfigException {
        String alg;
        switch (key.getAlgorithm()) {
            case "EC": alg = "SHA256withECDSA"; break;
            case "RSA": alg = "SHA256withRSA"; break;
            case "Ed25519": alg = "Ed25519"; break;
            default: return; // no cheap check; the handshake will tell
        }
        try {
            byte[] probe = "wanmig-key-check".getBytes(StandardCharsets.US_ASCII);
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            s.initVerify(cert.getPublicKey());
            s.update(probe);
            if (!s.verify(sig)) {
                throw new TlsConfigException("private key " + keyFile + " does not belong to certificate " + certFile,
                        null);
            }
        } catch (GeneralSecurityException e) {
            throw new TlsConfigException("private key " + keyFile + " does not belong to certificate " + certFile
                    + ": " + e.getMessage(), e);
        }
    }

    private static KeyStore load(Path p, char[] pw) throws TlsConfigException {
        try (InputStream in = Files.newInputStream(p)) {
            KeyStore ks = KeyStore.getInstance(p.toString().endsWith(".jks") ? "JKS" : "PKCS12");
            ks.load(in, pw == null ? NO_PASSWORD : pw);
            return ks;
        } catch (IOException | GeneralSecurityException e) {
            throw new TlsConfigException("cannot read keystore " + p + ": " + e.getMessage(), e);
        }
    }

    private static SSLContext context(KeyStore ks, char[] pw, KeyStore trust) throws TlsConfigException {
        try {
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pw == null ? NO_PASSWORD : pw);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance(PROTOCOL);
            ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), new SecureRandom());
            if (kmf.getKeyManagers().length == 0 || trust.size() == 0) {
                throw new TlsConfigException("no key or no trusted CA", null);
            }
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new TlsConfigException("cannot set up TLS: " + e.getMessage(), e);
        }
    }

    private static KeyStore trustStore(List<X509Certificate> cas) throws GeneralSecurityException, IOException {
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        int i = 0;
        for (X509Certificate c : cas) {
            ts.setCertificateEntry("ca" + i++, c);
        }
        return ts;
    }

    private static char[] randomPassword() {
        byte[] b = new byte[18];
        new SecureRandom().nextBytes(b);
        return Base64.getEncoder().encodeToString(b).toCharArray();
    }

    static List<X509Certificate> readCerts(Path p, String what) throws TlsConfigException {
        try (InputStream in = Files.newInputStream(p)) {
            Collection<? extends Certificate> cs = CertificateFactory.getInstance("X.509").generateCertificates(in);
            List<X509Certificate> out = new ArrayList<>();
            for (Certificate c : cs) {
                out.add((X509Certificate) c);
            }
            if (out.isEmpty()) {
                throw new TlsConfigException("no " + what + " in " + p, null);
            }
            return out;
        } catch (IOException | GeneralSecurityException e) {
            throw new TlsConfigException("cannot read " + what + " PEM " + p + ": " + e.getMessage(), e);
        }
    }

    static PrivateKey readKey(Path p) throws TlsConfigException {
        String pem;
        try {
            pem = Files.readString(p, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new TlsConfigException("cannot read private key " + p + ": " + e.getMessage(), e);
        }
        Matcher m = PEM_KEY.matcher(pem);
        if (!m.find()) {
            throw new TlsConfigException("no PEM private key in " + p, null);
        }
        if (!m.group(1).isEmpty()) {
            throw new TlsConfigException(p + " holds a '" + m.group(1).trim() + " PRIVATE KEY'; an unencrypted "
                    + "PKCS#8 key ('PRIVATE KEY') is needed: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.p8", null);
        }
        byte[] der = Base64.getMimeDecoder().decode(m.group(2));
        for (String alg : new String[]{"EC", "RSA", "Ed25519", "RSASSA-PSS"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new TlsConfigException("unsupported private key type in " + p, null);
    }

    /** Client side over a connected socket; verifyHost checks the peer certificate's names against host. */
    public static SSLSocket client(SSLContext ctx, Socket plain, String host, boolean verifyHost) throws IOException {
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(plain, host, plain.getPort(), true);
        SSLParameters p = s.getSSLParameters();
        p.setProtocols(new String[]{PROTOCOL});
        p.setCipherSuites(SUITES);
        if (verifyHost) {
            p.setEndpointIdentificationAlgorithm("HTTPS");
        }
        s.setSSLParameters(p);
        s.setUseClientMode(true);
        return s;
    }

    /** Server side over an accepted socket; a client certificate signed by a trusted CA is required. */
    public static SSLSocket server(SSLContext ctx, Socket plain) throws IOException {
        return server(ctx, plain, true);
    }

    /**
     * Server side over an accepted socket, authenticated by its certificate only, as HTTPS is: for
     * the control API's take-over channel, whose clients prove themselves with the control token.
     */
    public static SSLSocket serverAuthOnly(SSLContext ctx, Socket plain) throws IOException {
        return server(ctx, plain, false);
    }

    private static SSLSocket server(SSLContext ctx, Socket plain, boolean needClientAuth) throws IOException {
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(plain, (InputStream) null, true);
        SSLParameters p = s.getSSLParameters();
        p.setProtocols(new String[]{PROTOCOL});
        p.setCipherSuites(SUITES);
        p.setUseCipherSuitesOrder(true);
        p.setNeedClientAuth(needClientAuth);
        s.setSSLParameters(p);
        s.setUseClientMode(false);
        return s;
    }

    /** Subject of the peer's certificate (for logs), or "?" */
    public static String peerName(SSLSocket s) {
        try {
            return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSubjectX500Principal().getName();
        } catch (IOException | RuntimeException e) {
            return "?";
        }
    }
}
