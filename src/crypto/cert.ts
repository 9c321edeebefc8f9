// Self-signed TLS certificates for the control API (`tunmesh cert generate`, and test fixtures).
// ECDSA P-256 via WebCrypto; the certificate is its own CA so it can serve as the trust anchor too.
import 'reflect-metadata'; // @peculiar/x509 (through tsyringe) needs it loaded first.
import * as x509 from '@peculiar/x509';
import { isIP } from 'node:net';
import { randomBytes, webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface SelfSignedOptions {
  /** Common name; also a SAN (an IP SAN when it is an IP address). */
  readonly commonName: string;
  /** Further DNS names or IP addresses for the SAN. */
  readonly altNames?: readonly string[];
  readonly validDays: number;
  readonly now?: Date;
}

export interface PemPair {
  readonly certPem: string;
  /** PKCS#8 PEM of the private key. */
  readonly keyPem: string;
}

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

export async function generateSelfSignedCert(opts: SelfSignedOptions): Promise<PemPair> {
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = opts.now ?? new Date();
  const names = [...new Set([opts.commonName, ...(opts.altNames ?? [])])];
  const sans = names.map((n) => (isIP(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n }));
  // Positive serial: clear the top bit of 16 random bytes.
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: [{ CN: [opts.commonName] }],
    notBefore: new Date(now.getTime() - 60_000), // tolerate small clock skew between nodes
    notAfter: new Date(now.getTime() + opts.validDays * 86_400_000),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString('pem') + '\n', keyPem };
}
