// Just enough DER to issue the simulator's TLS certificates: a self-signed ECDSA P-256 CA and
// server certificates with DNS/IP subject alternative names, like the servicedns pod
// certificate signer gives ate-api-server (DNS name api.ate-system.svc, lifetime ≤ 24 h).
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

// --- DER encoding ---

function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

const sequence = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
/** A non-negative DER INTEGER: minimal (no redundant leading zero bytes; DER rejects them). */
function integer(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0 && bytes[start + 1] < 0x80) start++;
  const minimal = bytes.subarray(start);
  return tlv(0x02, minimal[0] & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}
const bitString = (bytes: Buffer, unusedBits = 0) =>
  tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));
const octetString = (bytes: Buffer) => tlv(0x04, bytes);
const utf8String = (text: string) => tlv(0x0c, Buffer.from(text, 'utf8'));
const boolean = (value: boolean) => tlv(0x01, Buffer.from([value ? 0xff : 0]));
const explicit = (tagNumber: number, inner: Buffer) => tlv(0xa0 | tagNumber, inner);

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const bytes = [40 * arcs[0] + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      chunk.unshift((v % 128) | (chunk.length > 0 ? 0x80 : 0));
      if (v < 128) break;
    }
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  return date.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`))
    : tlv(0x18, Buffer.from(`${iso}Z`));
}

const name = (commonName: string) => sequence(set(sequence(oid('2.5.4.3'), utf8String(commonName))));
const extension = (id: string, critical: boolean, value: Buffer) =>
  sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));

// --- certificates ---

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  /** The issuing key, for certificates signed by this one. */
  key: KeyObject;
  keyId: Buffer;
  subject: string;
}

interface CertificateRequest {
  subject: string;
  lifetimeMs: number;
  extensions: (keyId: Buffer) => Buffer[];
  issuer?: IssuedCertificate;
}

function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha1').update(spki).digest();
}

function issue({ subject, lifetimeMs, extensions, issuer }: CertificateRequest): IssuedCertificate {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyId = keyIdentifier(publicKey);
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const notBefore = new Date(Date.now() - 60_000);
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    ECDSA_WITH_SHA256,
    name(issuer?.subject ?? subject),
    sequence(time(notBefore), time(new Date(notBefore.getTime() + lifetimeMs))),
    name(subject),
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...extensions(keyId))),
  );
  const signature = sign('sha256', tbs, issuer?.key ?? privateKey);
  const der = sequence(tbs, ECDSA_WITH_SHA256, bitString(signature));
  const body = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${body.trimEnd()}\n-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    key: privateKey,
    keyId,
    subject,
  };
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function createCertificateAuthority(commonName: string): IssuedCertificate {
  return issue({
    subject: commonName,
    lifetimeMs: 365 * DAY_MS,
    extensions: (keyId) => [
      extension('2.5.29.19', true, sequence(boolean(true))), // basicConstraints: CA
      extension('2.5.29.15', true, bitString(Buffer.from([0x06]), 1)), // keyUsage: keyCertSign, cRLSign
      extension('2.5.29.14', false, octetString(keyId)), // subjectKeyIdentifier
    ],
  });
}

/** A server certificate for `dnsNames` (IP literals become IP SANs), valid for 24 hours. */
export function createServerCertificate(ca: IssuedCertificate, dnsNames: string[]): IssuedCertificate {
  const sans = dnsNames.map((n) =>
    isIP(n) === 4 ? tlv(0x87, Buffer.from(n.split('.').map(Number))) : tlv(0x82, Buffer.from(n, 'ascii')),
  );
  return issue({
    subject: dnsNames[0],
    lifetimeMs: DAY_MS,
    issuer: ca,
    extensions: () => [
      extension('2.5.29.19', true, sequence()), // basicConstraints: not a CA
      extension('2.5.29.15', true, bitString(Buffer.from([0x80]), 7)), // keyUsage: digitalSignature
      extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
      extension('2.5.29.17', false, sequence(...sans)), // subjectAltName
      extension('2.5.29.35', false, sequence(tlv(0x80, ca.keyId))), // authorityKeyIdentifier
    ],
  });
}
